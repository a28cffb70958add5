//! SIP over WebSocket (RFC 7118): one SIP message per frame, text or binary.
//! The HTTP layer does the upgrade (and refuses one without the `sip`
//! subprotocol); this module serves the open socket.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use shared::sip::Transport;
use tokio::sync::mpsc;
use tracing::debug;

use super::{CoreInput, SipHandle};
use crate::sip::core::Source;

/// Largest frame accepted by the WebSocket layer itself; SIP's own limit
/// (smaller) turns big-but-framed messages into 513 answers.
pub const MAX_FRAME: usize = 64 * 1024;

/// A WebSocket ping every so often keeps NAT bindings and proxies open and
/// notices dead peers, whose bindings then go.
const PING_EVERY: Duration = Duration::from_secs(25);

pub async fn serve(socket: WebSocket, peer: SocketAddr, secure: bool, core: SipHandle) {
    let conn = core.new_conn_id();
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    core.send(CoreInput::Connected { conn, tx }).await;
    let source = Source {
        transport: if secure {
            Transport::Wss
        } else {
            Transport::Ws
        },
        peer,
        conn: Some(conn),
    };
    debug!(%conn, %peer, "SIP WebSocket open");

    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            frame = stream.next() => {
                let bytes = match frame {
                    Some(Ok(Message::Text(text))) => text.as_str().as_bytes().to_vec(),
                    Some(Ok(Message::Binary(bytes))) => bytes.to_vec(),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Err(e)) => {
                        debug!(%conn, "WebSocket error: {e}");
                        break;
                    }
                };
                // RFC 5626 §3.5.1 keep-alive over a stream: a bare CRLF.
                if bytes.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    continue;
                }
                core.send(CoreInput::Message { source, bytes }).await;
            }
            out = rx.recv() => {
                let Some(bytes) = out else { break };
                let message = match String::from_utf8(bytes) {
                    Ok(text) => Message::Text(text.into()),
                    Err(e) => Message::Binary(e.into_bytes().into()),
                };
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
        }
    }
    debug!(%conn, "SIP WebSocket closed");
    core.send(CoreInput::Closed { conn }).await;
}
