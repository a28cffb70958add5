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

pub mod media_port;
pub mod tcp;
pub mod tls;
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

use crate::db::Db;
use crate::media::{MediaEngine, MediaEvent};
use crate::sip::b2bua::{AgentInfo, B2buaEvent, Route};
use crate::sip::core::{CoreConfig, CoreEvent, Destination, SipCore, Source};
use crate::sip::dids::Did;
use crate::sip::registrar::Credential;
use crate::sip::trunks::{QualifyStatus, RegistrationStatus, TrunkStatus};
use crate::sip::{ConnId, Now};
use crate::trunk_status::TrunkStatuses;

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
    /// A connection the driver opened toward a carrier could not be made.
    ConnectFailed {
        conn: ConnId,
        addr: SocketAddr,
        reason: String,
    },
    CredentialIssued(Credential),
    CredentialRevoked(i64),
    /// An agent's dialing profile (at sign-in, and when it changes).
    Agent(AgentInfo),
    /// The carriers changed (already resolved to addresses).
    Routes(Vec<Route>),
    /// The DIDs changed.
    Dids(Vec<Did>),
    /// Something a call's media task reported.
    Media(MediaEvent),
    /// Hang up every call; the reply comes when none is left or the
    /// grace period is over.
    Shutdown {
        grace: std::time::Duration,
        done: tokio::sync::oneshot::Sender<()>,
    },
}

/// Handle the transports and the HTTP layer use to reach the SIP core.
#[derive(Clone)]
pub struct SipHandle {
    tx: mpsc::Sender<CoreInput>,
    next_conn: Arc<AtomicU64>,
    trunk_statuses: TrunkStatuses,
    live: crate::live::LiveCalls,
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

    /// Every carrier's qualify and registration status, as the driver last
    /// saw it (the carrier page reads it; it is `Clone` for axum state).
    pub fn trunk_statuses(&self) -> TrunkStatuses {
        self.trunk_statuses.clone()
    }

    /// The calls in progress, as the driver last published them.
    pub fn live_calls(&self) -> crate::live::LiveCalls {
        self.live.clone()
    }
}

/// Reads both clocks once.
pub fn now() -> Now {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Now {
        instant: web_time::Instant::now(),
        unix,
        unix_ms,
    }
}

/// Starts the driver task; returns the handle to feed it.
pub fn start_core(
    config: CoreConfig,
    udp: UdpSockets,
    media: Arc<MediaEngine>,
    db: Db,
    log_sip: bool,
) -> SipHandle {
    let (tx, rx) = mpsc::channel(4096);
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let port = media_port::EnginePort::new(media, media_tx);
    let core = SipCore::new(config, Box::new(port), seed);
    // Media events join the driver's input queue.
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(event) = media_rx.recv().await {
            if forward.send(CoreInput::Media(event)).await.is_err() {
                break;
            }
        }
    });
    let handle = SipHandle {
        tx,
        next_conn: Arc::new(AtomicU64::new(1)),
        trunk_statuses: TrunkStatuses::new(),
        live: crate::live::LiveCalls::new(),
    };
    tokio::spawn(drive(core, rx, udp, db, log_sip, handle.clone()));
    handle
}

async fn drive(
    mut core: SipCore,
    mut rx: mpsc::Receiver<CoreInput>,
    udp: UdpSockets,
    db: Db,
    log_sip: bool,
    handle: SipHandle,
) {
    let trunk_statuses = handle.trunk_statuses();
    let live = handle.live_calls();
    let mut published: Vec<shared::api::LiveCall> = Vec::new();
    // Carrier names by id, for log lines about their status.
    let mut carrier_names: HashMap<i64, String> = HashMap::new();
    let mut conns: HashMap<ConnId, mpsc::Sender<Vec<u8>>> = HashMap::new();
    // Connections we opened toward carriers, by their address.
    let mut outbound: HashMap<SocketAddr, ConnId> = HashMap::new();
    // Server names and pinned CAs of TLS carriers, by address.
    let mut tls_targets: HashMap<SocketAddr, tls::TlsTarget> = HashMap::new();
    let mut shutdown: Option<(tokio::time::Instant, tokio::sync::oneshot::Sender<()>)> = None;
    // Call records being written; shutdown waits for them.
    let mut writes: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        let deadline = [
            core.poll_timeout().map(tokio::time::Instant::from_std),
            shutdown.as_ref().map(|(d, _)| *d),
        ]
        .into_iter()
        .flatten()
        .min();
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
                        outbound.retain(|_, c| *c != conn);
                        core.connection_closed(now(), conn);
                    }
                    CoreInput::ConnectFailed { conn, addr, reason } => {
                        conns.remove(&conn);
                        outbound.retain(|_, c| *c != conn);
                        warn!(%addr, %reason, "cannot connect to the carrier");
                        let dest = if tls_targets.contains_key(&addr) {
                            Destination::Tls(addr)
                        } else {
                            Destination::Tcp(addr)
                        };
                        core.transport_failed(now(), dest, &reason);
                    }
                    CoreInput::CredentialIssued(c) => core.add_credential(c),
                    CoreInput::CredentialRevoked(id) => core.remove_credential(id),
                    CoreInput::Agent(agent) => core.set_agent(agent),
                    CoreInput::Routes(routes) => {
                        carrier_names = routes.iter().map(|r| (r.id, r.name.clone())).collect();
                        tls_targets = routes
                            .iter()
                            .filter(|r| r.transport == shared::api::SipTransport::Tls)
                            .map(|r| {
                                let target = tls::TlsTarget {
                                    server_name: r.host.clone(),
                                    ca_pem: r.tls_ca.clone(),
                                };
                                (r.addr, target)
                            })
                            .collect();
                        core.set_routes(now(), routes);
                    }
                    CoreInput::Dids(dids) => core.set_dids(dids),
                    CoreInput::Media(event) => media_port::deliver(&mut core, now(), event),
                    CoreInput::Shutdown { grace, done } => {
                        core.hang_up_all(now());
                        shutdown = Some((tokio::time::Instant::now() + grace, done));
                    }
                }
            }
            () = sleep => core.handle_timeout(now()),
        }

        while let Some(t) = core.poll_transmit() {
            if log_sip {
                info!(target: "sip", to = ?t.to, "sending:\n{}", String::from_utf8_lossy(&t.bytes));
            }
            match t.to {
                Destination::Udp(addr) => {
                    if let Err(e) = udp.toward(addr).send_to(&t.bytes, addr).await {
                        debug!(%addr, "UDP send failed: {e}");
                    }
                }
                Destination::Tcp(addr) | Destination::Tls(addr) => {
                    let open = outbound
                        .get(&addr)
                        .and_then(|c| conns.get(c).map(|tx| (*c, tx)));
                    let (conn, tx) = match open {
                        Some((conn, tx)) => (conn, tx.clone()),
                        None => {
                            let conn = handle.new_conn_id();
                            let (tx, rx) = mpsc::channel(tcp::QUEUE);
                            conns.insert(conn, tx.clone());
                            outbound.insert(addr, conn);
                            match (t.to, tls_targets.get(&addr)) {
                                (Destination::Tls(_), Some(target)) => {
                                    tokio::spawn(tls::connect(
                                        addr,
                                        target.clone(),
                                        conn,
                                        rx,
                                        handle.clone(),
                                    ));
                                }
                                (Destination::Tls(_), None) => {
                                    let reason = "no TLS settings for this address".to_owned();
                                    let handle = handle.clone();
                                    tokio::spawn(async move {
                                        handle
                                            .send(CoreInput::ConnectFailed { conn, addr, reason })
                                            .await;
                                    });
                                }
                                _ => {
                                    tokio::spawn(tcp::connect(addr, conn, rx, handle.clone()));
                                }
                            }
                            (conn, tx)
                        }
                    };
                    if tx.try_send(t.bytes).is_err() {
                        warn!(%conn, %addr, "carrier connection not reading; closing it");
                        conns.remove(&conn);
                        outbound.remove(&addr);
                        core.transport_failed(
                            now(),
                            t.to,
                            "the carrier's connection is not reading",
                        );
                    }
                }
                Destination::Conn(conn) => match conns.get(&conn) {
                    // A full queue means the peer does not read: drop the
                    // connection rather than stall every other one.
                    Some(tx) => {
                        if tx.try_send(t.bytes).is_err() {
                            warn!(%conn, "connection not reading; closing it");
                            conns.remove(&conn);
                            core.connection_closed(now(), conn);
                        }
                    }
                    None => debug!(%conn, "connection gone; response dropped"),
                },
            }
        }
        let now_live = core.live_calls();
        if now_live != published {
            live.publish(now_live.clone());
            published = now_live;
        }
        while let Some(event) = core.poll_event() {
            log_event(&event);
            if let CoreEvent::Trunk(status) = event {
                let name = carrier_names
                    .get(&status.carrier_id)
                    .map_or("(removed)", String::as_str);
                let before = trunk_statuses.set(status.clone());
                log_trunk_status(name, before.as_ref(), &status);
                continue;
            }
            if let CoreEvent::Call(B2buaEvent::Record(record)) = event {
                let db = db.clone();
                writes.retain(|w| !w.is_finished());
                writes.push(tokio::spawn(async move {
                    if let Err(e) = crate::db::insert_call_record(&db, &record).await {
                        warn!(call = %record.id, "call record not stored: {e}");
                    }
                }));
            }
        }
        if let Some((deadline, _)) = &shutdown
            && (core.call_count() == 0 || tokio::time::Instant::now() >= *deadline)
            && let Some((_, done)) = shutdown.take()
        {
            for w in writes.drain(..) {
                let _ = w.await;
            }
            let _ = done.send(());
        }
    }
}

fn log_event(event: &CoreEvent) {
    match event {
        CoreEvent::Registrar(e) => info!(event = ?e, "registrar"),
        CoreEvent::Call(B2buaEvent::Placed {
            call,
            agent,
            carrier,
        }) => info!(call, %agent, %carrier, "call placed"),
        CoreEvent::Call(B2buaEvent::Record(r)) => info!(
            call = %r.id,
            code = r.final_code,
            reason = %r.final_reason,
            duration_s = r.duration_s,
            hangup_by = ?r.hangup_by,
            "call ended"
        ),
        CoreEvent::Refused { peer, code, reason } => {
            debug!(%peer, ?code, %reason, "SIP message refused");
        }
        CoreEvent::Trunk(_) | CoreEvent::Call(B2buaEvent::Progress { .. }) => {}
    }
}

/// A carrier's qualify or registration state changed: one stable info line
/// (`carrier status carrier=NAME qualify=up registration=registered`, the
/// fields in the message so that they read the same with or without
/// colours); round-trip times and the like at debug. No secrets: the status
/// holds none.
fn log_trunk_status(name: &str, before: Option<&TrunkStatus>, now: &TrunkStatus) {
    fn qualify(q: Option<&QualifyStatus>) -> &'static str {
        match q.map(|q| q.state) {
            None => "off",
            Some(crate::sip::trunks::QualifyState::Unknown) => "unknown",
            Some(crate::sip::trunks::QualifyState::Up) => "up",
            Some(crate::sip::trunks::QualifyState::Down) => "down",
        }
    }
    fn registration(r: Option<&RegistrationStatus>) -> &'static str {
        match r.map(|r| r.state) {
            None => "none",
            Some(crate::sip::trunks::TrunkRegistrationState::Registering) => "registering",
            Some(crate::sip::trunks::TrunkRegistrationState::Registered) => "registered",
            Some(crate::sip::trunks::TrunkRegistrationState::Failed) => "failed",
            Some(crate::sip::trunks::TrunkRegistrationState::Off) => "off",
        }
    }
    let q = qualify(now.qualify.as_ref());
    let r = registration(now.registration.as_ref());
    let changed = before.is_none_or(|b| {
        qualify(b.qualify.as_ref()) != q || registration(b.registration.as_ref()) != r
    });
    let error = [
        now.qualify.as_ref().and_then(|q| q.last_error.as_deref()),
        now.registration
            .as_ref()
            .and_then(|r| r.last_error.as_deref()),
    ];
    if changed {
        info!(
            carrier_id = now.carrier_id,
            qualify_error = error[0],
            registration_error = error[1],
            "carrier status carrier={name} qualify={q} registration={r}"
        );
    } else {
        debug!(
            carrier_id = now.carrier_id,
            rtt_ms = now.qualify.as_ref().and_then(|q| q.rtt_ms),
            "carrier status carrier={name} qualify={q} registration={r}"
        );
    }
}

/// The SIP UDP sockets: the main one, and a dual-stack gateway's IPv6 one.
#[derive(Clone)]
pub struct UdpSockets {
    pub main: Arc<UdpSocket>,
    pub ipv6: Option<Arc<UdpSocket>>,
}

impl UdpSockets {
    /// The socket to send to `peer` from: the IPv6 one for an IPv6 peer
    /// when there is one.
    fn toward(&self, peer: SocketAddr) -> &UdpSocket {
        match &self.ipv6 {
            Some(v6) if peer.is_ipv6() => v6,
            _ => &self.main,
        }
    }
}

/// Bound SIP listeners.
pub struct SipListeners {
    pub udp: UdpSockets,
    pub tcp: tokio::net::TcpListener,
}
