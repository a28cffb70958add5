//! The I/O shell around [`crate::sip::core::SipCore`]: the only code that
//! owns SIP sockets. One driver task owns the core; the UDP receiver, each TCP
//! connection and each WebSocket send it [`CoreInput`]s over a channel and
//! receive their outgoing bytes over a channel of their own.
//!
//! ```text
//!  udp recv ──┐                          ┌──► udp socket send_to
//!  tcp conn ──┼─► mpsc ─► driver task ───┼──► per-connection mpsc ─► tcp writer
//!  ws  conn ──┘        (SipCore, timers) └──► per-connection mpsc ─► ws writer
//! ```

pub mod tcp;
pub mod udp;
pub mod ws;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::sip::core::{CoreConfig, CoreEvent, Destination, SipCore, Source};
use crate::sip::registrar::Credential;
use crate::sip::{ConnId, Now};

/// Messages into the driver task.
#[derive(Debug)]
pub enum CoreInput {
    Message {
        source: Source,
        bytes: Vec<u8>,
    },
    Connected {
        conn: ConnId,
        tx: mpsc::Sender<Vec<u8>>,
    },
    Closed {
        conn: ConnId,
    },
    CredentialIssued(Credential),
    CredentialRevoked(i64),
}

/// Handle the transports and the HTTP layer use to reach the SIP core.
#[derive(Clone)]
pub struct SipHandle {
    tx: mpsc::Sender<CoreInput>,
    next_conn: Arc<AtomicU64>,
}

impl SipHandle {
    pub async fn send(&self, input: CoreInput) {
        // The driver ends only when the process shuts down.
        if self.tx.send(input).await.is_err() {
            debug!("SIP core has stopped; input dropped");
        }
    }

    pub fn new_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }
}

/// Reads both clocks once.
pub fn now() -> Now {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Now {
        instant: web_time::Instant::now(),
        unix,
    }
}

/// Starts the driver task; returns the handle to feed it.
pub fn start_core(config: CoreConfig, udp: Arc<UdpSocket>, log_sip: bool) -> SipHandle {
    let (tx, rx) = mpsc::channel(4096);
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let core = SipCore::new(config, seed);
    tokio::spawn(drive(core, rx, udp, log_sip));
    SipHandle {
        tx,
        next_conn: Arc::new(AtomicU64::new(1)),
    }
}

async fn drive(
    mut core: SipCore,
    mut rx: mpsc::Receiver<CoreInput>,
    udp: Arc<UdpSocket>,
    log_sip: bool,
) {
    let mut conns: HashMap<ConnId, mpsc::Sender<Vec<u8>>> = HashMap::new();
    loop {
        let deadline = core.poll_timeout().map(tokio::time::Instant::from_std);
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            input = rx.recv() => {
                let Some(input) = input else { break };
                match input {
                    CoreInput::Message { source, bytes } => {
                        if log_sip {
                            info!(target: "sip", peer = %source.peer, transport = ?source.transport,
                                "received:\n{}", String::from_utf8_lossy(&bytes));
                        }
                        core.handle_input(now(), source, &bytes);
                    }
                    CoreInput::Connected { conn, tx } => {
                        conns.insert(conn, tx);
                    }
                    CoreInput::Closed { conn } => {
                        conns.remove(&conn);
                        core.connection_closed(conn);
                    }
                    CoreInput::CredentialIssued(c) => core.add_credential(c),
                    CoreInput::CredentialRevoked(id) => core.remove_credential(id),
                }
            }
            () = sleep => core.handle_timeout(web_time::Instant::now()),
        }

        while let Some(t) = core.poll_transmit() {
            if log_sip {
                info!(target: "sip", to = ?t.to, "sending:\n{}", String::from_utf8_lossy(&t.bytes));
            }
            match t.to {
                Destination::Udp(addr) => {
                    if let Err(e) = udp.send_to(&t.bytes, addr).await {
                        debug!(%addr, "UDP send failed: {e}");
                    }
                }
                Destination::Conn(conn) => match conns.get(&conn) {
                    // A full queue means the peer does not read: drop the
                    // connection rather than stall every other one.
                    Some(tx) => {
                        if tx.try_send(t.bytes).is_err() {
                            warn!(%conn, "connection not reading; closing it");
                            conns.remove(&conn);
                            core.connection_closed(conn);
                        }
                    }
                    None => debug!(%conn, "connection gone; response dropped"),
                },
            }
        }
        while let Some(event) = core.poll_event() {
            log_event(&event);
        }
    }
}

fn log_event(event: &CoreEvent) {
    match event {
        CoreEvent::Registrar(e) => info!(event = ?e, "registrar"),
        CoreEvent::Refused { peer, code, reason } => {
            debug!(%peer, ?code, %reason, "SIP message refused");
        }
    }
}

/// Bound SIP listeners.
pub struct SipListeners {
    pub udp: Arc<UdpSocket>,
    pub tcp: tokio::net::TcpListener,
}

impl SipListeners {
    pub async fn bind(udp: SocketAddr, tcp: SocketAddr) -> std::io::Result<SipListeners> {
        Ok(SipListeners {
            udp: Arc::new(UdpSocket::bind(udp).await?),
            tcp: tokio::net::TcpListener::bind(tcp).await?,
        })
    }
}
