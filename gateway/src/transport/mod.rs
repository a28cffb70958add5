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
//!
//! - [`driver`]: the task's loop (inputs in; transmits, live calls, events,
//!   records out).
//! - [`table`] (sans-IO): which connection each transmit goes to, when to
//!   open one toward a carrier, what the core hears when one fails.
//! - [`udp`], [`tcp`], [`tls`], [`ws`]: the socket tasks; [`media_port`]:
//!   the core's way to the media engine.
//! - [`tls_server`]: the gateway's own certificate (reloaded when its files
//!   change) and the TLS accept loop HTTPS and SIP over TLS share.
//!
//! The driver task is supervised ([`start_core`]): if it ends, by a panic or
//! otherwise, [`SipHandle::core_stopped`] says why, and the binary exits.

mod driver;
pub mod media_port;
pub mod table;
pub mod tcp;
pub mod tls;
pub mod tls_server;
pub mod udp;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tracing::debug;

use crate::db::Db;
use crate::media::{MediaEngine, MediaEvent};
use crate::sip::b2bua::{AgentInfo, Route};
use crate::sip::core::{CoreConfig, SipCore, Source};
use crate::sip::dids::Did;
use crate::sip::registrar::Credential;
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
    /// The carriers changed (already resolved to addresses), with every
    /// address of those whose host is a name.
    Routes(Vec<Route>, crate::sip::rfc3263::CarrierTargets),
    /// The DIDs changed.
    Dids(Vec<Did>),
    /// Something a call's media task reported.
    Media(MediaEvent),
    /// A failed authentication outside SIP (a web sign-in), counted toward
    /// the source's ban.
    AuthFailed {
        ip: std::net::IpAddr,
        what: String,
    },
    /// An admin bans a source; the reply says whether it took (an
    /// allowlisted or carrier address cannot be banned).
    Ban {
        ip: std::net::IpAddr,
        detail: String,
        done: tokio::sync::oneshot::Sender<bool>,
    },
    /// The fraud limits (at start, or changed by an admin) and what they
    /// have reached today: every block is set anew from `reached`.
    Limits {
        limits: shared::api::FraudLimits,
        reached: Vec<crate::limits::Reached>,
    },
    /// Daily limits a just-stored call record reached.
    LimitsReached(Vec<crate::limits::Reached>),
    /// An admin lifts a ban; the reply says whether there was one.
    Unban {
        ip: std::net::IpAddr,
        done: tokio::sync::oneshot::Sender<bool>,
    },
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
    /// The banned sources, as the driver last published them.
    bans: crate::guard::BanList,
    /// Each call's progress, published as the calls report it.
    call_events: crate::call_events::CallEvents,
    /// Alerts for admins, published once stored.
    alerts: crate::alerts::Alerts,
    /// How the call-record writer is doing (`/healthz`).
    records: crate::records::RecordStatus,
    /// Why the driver task ended, once it has.
    stopped: watch::Receiver<Option<String>>,
    /// The gateway's own certificate (`--tls-cert`), presented to TLS
    /// carriers that ask for a client certificate.
    client_cert: Option<Arc<tls_server::ReloadingCert>>,
}

impl SipHandle {
    /// The bus of alerts (published once stored).
    pub fn alerts(&self) -> crate::alerts::Alerts {
        self.alerts.clone()
    }

    /// Call records waiting for the database, and why, if it refuses them.
    pub fn record_status(&self) -> crate::records::RecordStatus {
        self.records.clone()
    }

    /// The bus of call progress events (started, answered, ended).
    pub fn call_events(&self) -> crate::call_events::CallEvents {
        self.call_events.clone()
    }

    pub async fn send(&self, input: CoreInput) {
        // The driver ends only when the process shuts down.
        if self.tx.send(input).await.is_err() {
            debug!("SIP core has stopped; input dropped");
        }
    }

    /// The certificate to present to a TLS carrier that asks for one.
    pub fn client_cert(&self) -> Option<Arc<tls_server::ReloadingCert>> {
        self.client_cert.clone()
    }

    pub fn new_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// Every carrier's qualify and registration status, as the driver last
    /// saw it (the carrier page reads it; it is `Clone` for axum state).
    pub fn trunk_statuses(&self) -> TrunkStatuses {
        self.trunk_statuses.clone()
    }

    /// The banned sources, as the driver last published them.
    pub fn bans(&self) -> crate::guard::BanList {
        self.bans.clone()
    }

    /// The calls in progress, as the driver last published them.
    pub fn live_calls(&self) -> crate::live::LiveCalls {
        self.live.clone()
    }

    /// Waits until the driver task has ended and says why (a panic's
    /// message). The driver holds a handle of its own, so it never ends by
    /// itself: this resolving means the core is dead, and the binary exits
    /// non-zero rather than serve HTTP without signalling.
    pub async fn core_stopped(&self) -> String {
        let mut stopped = self.stopped.clone();
        match stopped.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "the SIP core's supervisor is gone".to_owned(),
        }
    }
}

/// A day in milliseconds.
pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// The UTC day `unix_ms` falls in, as Unix ms from its midnight to the next.
pub fn utc_day(unix_ms: i64) -> std::ops::Range<i64> {
    let midnight = unix_ms - unix_ms.rem_euclid(DAY_MS);
    midnight..midnight + DAY_MS
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

/// What the driver task needs besides the core's settings.
#[derive(Default)]
pub struct DriverOptions {
    /// Log every SIP message in full (`--log-sip`).
    pub log_sip: bool,
    /// The country whose calls are not international (the daily limits).
    pub home_country: String,
    /// The gateway's own certificate (`--tls-cert`), presented to TLS
    /// carriers that ask for a client certificate.
    pub client_cert: Option<Arc<tls_server::ReloadingCert>>,
}

/// Starts the driver task; returns the handle to feed it.
pub fn start_core(
    config: CoreConfig,
    bans: Vec<crate::guard::Ban>,
    udp: UdpSockets,
    media: Arc<MediaEngine>,
    db: Db,
    options: DriverOptions,
) -> SipHandle {
    let DriverOptions {
        log_sip,
        home_country,
        client_cert,
    } = options;
    let (tx, rx) = mpsc::channel(4096);
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let (media_tx, mut media_rx) = mpsc::unbounded_channel();
    let port = media_port::EnginePort::new(media, media_tx);
    let mut core = SipCore::new(config, Box::new(port), seed);
    core.restore_bans(now(), bans);
    let ban_list = crate::guard::BanList::default();
    ban_list.publish(core.bans());
    // Media events join the driver's input queue.
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(event) = media_rx.recv().await {
            if forward.send(CoreInput::Media(event)).await.is_err() {
                break;
            }
        }
    });
    let (stopped_tx, stopped) = watch::channel(None);
    let handle = SipHandle {
        tx,
        next_conn: Arc::new(AtomicU64::new(1)),
        trunk_statuses: TrunkStatuses::new(),
        live: crate::live::LiveCalls::new(),
        bans: ban_list,
        call_events: crate::call_events::CallEvents::default(),
        alerts: crate::alerts::Alerts::default(),
        records: crate::records::RecordStatus::default(),
        stopped,
        client_cert,
    };
    let driver = tokio::spawn(
        driver::Driver::new(core, udp, db, log_sip, home_country, handle.clone()).run(rx),
    );
    tokio::spawn(async move {
        let why = match driver.await {
            Ok(()) => "the SIP core stopped".to_owned(),
            Err(e) if e.is_panic() => format!(
                "the SIP core panicked: {}",
                crate::media::panic_message(&*e.into_panic())
            ),
            Err(e) => format!("the SIP core was cancelled: {e}"),
        };
        let _ = stopped_tx.send(Some(why));
    });
    handle
}

/// The SIP UDP sockets: the main one, and a dual-stack gateway's IPv6 one.
#[derive(Clone)]
pub struct UdpSockets {
    pub main: Arc<UdpSocket>,
    pub ipv6: Option<Arc<UdpSocket>>,
}

impl UdpSockets {
    /// The socket the connection table chose (the main one if there is
    /// no IPv6 one, which the table knows and never chooses).
    fn socket(&self, id: table::UdpSocketId) -> &UdpSocket {
        match (id, &self.ipv6) {
            (table::UdpSocketId::Ipv6, Some(v6)) => v6,
            _ => &self.main,
        }
    }
}

/// Bound SIP listeners.
pub struct SipListeners {
    pub udp: UdpSockets,
    pub tcp: tokio::net::TcpListener,
    /// SIP over TLS from carriers (`--sip-tls`).
    pub tls: Option<tokio::net::TcpListener>,
}
