//! SIP over TCP: each connection is framed by Content-Length
//! (RFC 3261 §18.3) and gets its own reader and writer tasks.

use std::net::SocketAddr;
use std::time::Duration;

use shared::sip::Transport;
use shared::sip::normalize::{Frame, frame_stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::debug;

use super::{CoreInput, SipHandle};
use crate::sip::ConnId;
use crate::sip::core::Source;

/// A peer that sends more than this without completing a message is cut off.
const MAX_BUFFER: usize = 64 * 1024;

pub async fn accept_loop(listener: TcpListener, core: SipHandle) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let core = core.clone();
                tokio::spawn(async move {
                    serve(stream, peer, core).await;
                });
            }
            Err(e) => {
                debug!("TCP accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(stream: TcpStream, peer: SocketAddr, core: SipHandle) {
    let conn = core.new_conn_id();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    core.send(CoreInput::Connected { conn, tx }).await;
    run(stream, Transport::Tcp, peer, conn, rx, core).await;
}

/// How many messages may wait for a connection's writer.
pub const QUEUE: usize = 64;

/// How long connecting to a carrier may take before its requests fail.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection to a carrier for the driver, which has already
/// queued the first messages on `rx` (and knows the connection as `conn`).
/// A failure is reported as [`CoreInput::ConnectFailed`], so the calls
/// waiting on it fail at once rather than after timer B.
pub async fn connect(addr: SocketAddr, conn: ConnId, rx: mpsc::Receiver<Vec<u8>>, core: SipHandle) {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            run(stream, Transport::Tcp, addr, conn, rx, core).await;
        }
        Ok(Err(e)) => {
            debug!(%addr, "TCP connect failed: {e}");
            let reason = format!("TCP connection refused or failed: {e}");
            core.send(CoreInput::ConnectFailed { conn, addr, reason })
                .await;
        }
        Err(_) => {
            debug!(%addr, "TCP connect timed out");
            let reason = "TCP connection timed out".to_owned();
            core.send(CoreInput::ConnectFailed { conn, addr, reason })
                .await;
        }
    }
}

/// Reads framed messages into the core and writes what the driver queues,
/// until either side closes.
pub async fn run<S>(
    stream: S,
    transport: Transport,
    peer: SocketAddr,
    conn: ConnId,
    mut rx: mpsc::Receiver<Vec<u8>>,
    core: SipHandle,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });

    let source = Source {
        transport,
        peer,
        conn: Some(conn),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    'read: loop {
        let n = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match frame_stream(&buf) {
                Frame::Incomplete => {
                    if buf.len() > MAX_BUFFER {
                        debug!(%peer, "TCP message too large; closing");
                        break 'read;
                    }
                    break;
                }
                Frame::KeepAlive { len } => {
                    buf.drain(..len);
                }
                Frame::Complete { len } => {
                    let message: Vec<u8> = buf.drain(..len).collect();
                    core.send(CoreInput::Message {
                        source,
                        bytes: message,
                    })
                    .await;
                }
                // Without a usable Content-Length the stream cannot be
                // re-synchronised (RFC 3261 §18.3): let the core answer 400,
                // then close.
                Frame::Invalid(reason) => {
                    debug!(%peer, %reason, "unframeable TCP input; closing");
                    let rest = std::mem::take(&mut buf);
                    core.send(CoreInput::Message {
                        source,
                        bytes: rest,
                    })
                    .await;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    break 'read;
                }
            }
        }
    }
    core.send(CoreInput::Closed { conn }).await;
    write_task.abort();
}
