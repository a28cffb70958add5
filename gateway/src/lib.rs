//! The gateway: a B2BUA between browsers (SIP over WebSocket, WebRTC) and
//! carrier SIP trunks, with the admin API and the web client.
//!
//! Protocol logic is sans-IO and lives in [`sip`] (and in the `shared`
//! crate); everything that touches a socket is in [`transport`] (SIP) and
//! [`http`] (web, API, WebSocket upgrade). [`start`] wires them together.
//!
//! - [`config`]: settings from file, environment and flags.
//! - [`db`]: SQLite schema, first-start accounts, queries.
//! - [`auth`]: argon2 passwords, random tokens.
//! - [`password`]: the strength rules for passwords people choose.
//! - [`live`]: the calls in progress, for the live view.
//! - [`call_events`]: each call's progress (started, answered, ended), for
//!   [`webhook`].

pub mod acme;
pub mod addresses;
pub mod alerts;
pub mod auth;
pub mod backup;
pub mod call_events;
pub mod carriers;
pub mod config;
pub mod db;
pub mod demo_carrier;
pub mod dids;
pub mod dns;
pub mod embed;
#[doc(hidden)]
pub mod fuzz;
pub mod guard;
pub mod http;
pub mod limits;
pub mod live;
pub mod media;
pub mod metrics;
pub mod password;
pub mod quality;
pub mod records;
pub mod sip;
pub mod transport;
pub mod trunk_status;
pub mod turn;
pub mod web_client;
pub mod webhook;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use futures_util::FutureExt;
use shared::sip::Limits;
use tracing::{info, warn};

use crate::config::Config;
use crate::sip::b2bua::B2buaConfig;
use crate::sip::core::CoreConfig;
use crate::sip::registrar::RegistrarConfig;
use crate::transport::{CoreInput, SipListeners};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("media: {0}")]
    Media(String),
    #[error("cannot start the demo carrier: {0}")]
    DemoCarrier(std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Locked(String),
    #[error("cannot listen on {what} {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the fraud watch starts from: the home country and the destinations
/// answered calls went to in the last 90 days are known; the usual calls
/// per 5 minutes by hour come from the last 14 days.
async fn fraud_watch(
    database: &db::Db,
    config: &Config,
    now_ms: i64,
) -> Result<sip::b2bua::watch::WatchConfig, StartError> {
    use transport::DAY_MS;
    let mut known_places = vec![config.default_country.to_ascii_uppercase()];
    for dialled in db::answered_destinations(database, now_ms - 90 * DAY_MS, 50_000).await? {
        if let Ok(number) = dialled.parse::<shared::e164::E164>() {
            known_places.push(sip::b2bua::watch::place_key(&number));
        }
    }
    let offset = config
        .business_hours
        .map_or(0, |h| i64::from(h.utc_offset_min));
    let by_hour = db::outbound_calls_by_hour(database, now_ms - 14 * DAY_MS, offset).await?;
    let mut usual_per_5min = [0.0; 24];
    for (usual, count) in usual_per_5min.iter_mut().zip(by_hour) {
        // 14 days × 12 five-minute slots in each hour.
        *usual = count as f64 / (14.0 * 12.0);
    }
    Ok(sip::b2bua::watch::WatchConfig {
        known_places,
        business_hours: config.business_hours,
        usual_per_5min,
    })
}

/// A started gateway: where it listens, and how to stop it.
pub struct Running {
    pub http: SocketAddr,
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    /// SIP over TLS from carriers (`--sip-tls`).
    pub sip_tls: Option<SocketAddr>,
    /// Whether `http` serves HTTPS (and WSS).
    pub https: bool,
    /// The IPv6 SIP sockets of a dual-stack gateway.
    pub sip_udp6: Option<SocketAddr>,
    pub sip_tcp6: Option<SocketAddr>,
    /// Passwords generated on first start were written here.
    pub first_start_credentials: Option<std::path::PathBuf>,
    pub first_start: bool,
    /// Where the built-in demo carrier listens, when it runs.
    pub demo_carrier: Option<SocketAddr>,
    /// The metrics listener (`--metrics-listen`).
    pub metrics: Option<SocketAddr>,
    sip: transport::SipHandle,
    grace: std::time::Duration,
    _demo: Option<demo_carrier::DemoCarrier>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    /// `<data>/gateway.lock`, held until the process ends.
    _data_lock: std::fs::File,
}

impl Running {
    /// Resolves only if the SIP core's task has ended (it panicked), with
    /// why; the binary then exits non-zero (`transport::start_core`
    /// supervises the task).
    pub async fn core_stopped(&self) -> String {
        self.sip.core_stopped().await
    }

    /// Hangs up every call (after waiting up to the grace period for them to
    /// end; their records are written), then stops accepting HTTP requests
    /// and waits for open ones to finish.
    pub async fn shutdown(self) {
        let (done, calls_over) = tokio::sync::oneshot::channel();
        self.sip
            .send(CoreInput::Shutdown {
                grace: self.grace,
                done,
            })
            .await;
        // Hung-up calls need a moment for their BYEs and records.
        let _ =
            tokio::time::timeout(self.grace + std::time::Duration::from_secs(5), calls_over).await;
        let _ = self.shutdown.send(());
        let _ = self.server.await;
    }
}

pub async fn start(config: Config) -> Result<Running, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    // One gateway per data directory; a restore waits for it to stop.
    let data_lock = backup::lock_data_dir(&config.data_dir).map_err(StartError::Locked)?;
    let database = db::open(&config.database_url).await?;
    match records::recover_interrupted(&database).await {
        Ok(0) => {}
        Ok(n) => warn!("calls up when the gateway last stopped abruptly, now recorded: {n}"),
        Err(e) => warn!("calls interrupted by the last stop not recorded: {e}"),
    }
    let now = transport::now();
    db::purge_expired(&database, now.unix).await?;
    let seeded = db::seed_if_empty(&database, &config.data_dir, now.unix).await?;

    let bind_error = |what: &'static str, addr: SocketAddr| {
        move |source: std::io::Error| StartError::Bind { what, addr, source }
    };
    let udp = tokio::net::UdpSocket::bind(config.sip_udp)
        .await
        .map_err(bind_error("SIP UDP", config.sip_udp))?;
    let sip_udp = udp
        .local_addr()
        .map_err(bind_error("SIP UDP", config.sip_udp))?;
    let tcp = tokio::net::TcpListener::bind(config.sip_tcp)
        .await
        .map_err(bind_error("SIP TCP", config.sip_tcp))?;
    let sip_tcp = tcp
        .local_addr()
        .map_err(bind_error("SIP TCP", config.sip_tcp))?;
    let (udp6, sip_udp6) = match config.ipv6 {
        Some(v6) => {
            let socket = tokio::net::UdpSocket::bind(v6.udp)
                .await
                .map_err(bind_error("SIP UDP (IPv6)", v6.udp))?;
            let addr = socket
                .local_addr()
                .map_err(bind_error("SIP UDP (IPv6)", v6.udp))?;
            (Some(Arc::new(socket)), Some(addr))
        }
        None => (None, None),
    };
    let (tcp6, sip_tcp6) = match config.ipv6.and_then(|v6| v6.tcp) {
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(bind_error("SIP TCP (IPv6)", at))?;
            let addr = listener
                .local_addr()
                .map_err(bind_error("SIP TCP (IPv6)", at))?;
            (Some(listener), Some(addr))
        }
        None => (None, None),
    };
    // ACME: the HTTP-01 responder first, then a certificate unless a fresh
    // one is on disk (the start fails, saying why, if none at all can be
    // had).
    if let Some(acme) = &config.acme {
        let challenges = acme::Challenges::default();
        let listener = tokio::net::TcpListener::bind(acme.http)
            .await
            .map_err(bind_error("ACME HTTP-01", acme.http))?;
        let router = acme::challenge_router(challenges.clone(), config.http_listen.port());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                warn!("ACME HTTP-01 responder: {e}");
            }
        });
        if let Err(e) = acme::ensure(acme, &challenges).await {
            // An old certificate still serves until the next try.
            if transport::tls_server::load(&acme.files()).is_err() {
                return Err(StartError::Tls(format!("ACME for {}: {e}", acme.domain)));
            }
            warn!(domain = %acme.domain, "certificate renewal failed ({e}); serving the one on disk");
        }
        tokio::spawn(acme::renew_loop(acme.clone(), challenges));
    }
    // The certificate was checked by `Config::resolve` (or just made by
    // ACME); the files may have changed since.
    let cert = match &config.tls {
        Some(files) => Some(Arc::new(
            transport::tls_server::ReloadingCert::new(files.clone())
                .map_err(|e| StartError::Tls(e.to_string()))?,
        )),
        None => None,
    };
    let (tls, sip_tls) = match config.sip_tls {
        Some(at) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(bind_error("SIP TLS", at))?;
            let addr = listener.local_addr().map_err(bind_error("SIP TLS", at))?;
            (Some(listener), Some(addr))
        }
        None => (None, None),
    };
    let listeners = SipListeners {
        udp: transport::UdpSockets {
            main: Arc::new(udp),
            ipv6: udp6,
        },
        tcp,
        tls,
    };
    let http_listener = tokio::net::TcpListener::bind(config.http_listen)
        .await
        .map_err(|source| StartError::Bind {
            what: "HTTP",
            addr: config.http_listen,
            source,
        })?;
    let http = http_listener
        .local_addr()
        .map_err(|source| StartError::Bind {
            what: "HTTP",
            addr: config.http_listen,
            source,
        })?;
    if let Some(at) = config.http_redirect {
        let listener = tokio::net::TcpListener::bind(at)
            .await
            .map_err(bind_error("HTTP redirect", at))?;
        let router = http::redirect::router(http.port());
        info!(%at, "plain HTTP here redirects to HTTPS");
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                warn!("HTTP redirect: {e}");
            }
        });
    }

    let media = media::MediaEngine::new(media::MediaConfig {
        bind_ip: sip_udp.ip(),
        advertised_ip: config.advertised_address,
        other_ips: config.other_addresses.clone(),
        rtp_ports: config.rtp_ports.clone(),
        no_media_timeout: config.no_media_timeout,
        ipv6: config.ipv6.map(|v6| media::Ipv6Media {
            bind_ip: v6.udp.ip(),
            advertised_ip: v6.advertised.into(),
        }),
    })
    .map_err(|e| StartError::Media(e.to_string()))?;
    match &config.advertised_why {
        Some(why) => info!("advertised address {}: {why}", config.advertised_address),
        None => info!("advertised address {}", config.advertised_address),
    }
    let demo = if config.demo_carrier {
        Some(
            demo_carrier::start(demo_carrier::DemoCarrierConfig {
                bind_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                sip_port: 0,
                answer_delay: std::time::Duration::from_secs(1),
            })
            .await
            .map_err(StartError::DemoCarrier)?,
        )
    } else {
        None
    };
    let demo_addr = demo.as_ref().map(|d| d.sip_addr);

    let core_config = CoreConfig {
        guard: config.guard.clone(),
        registrar: RegistrarConfig::new(config.sip_domain.clone()),
        b2bua: B2buaConfig {
            local: sip::Local {
                tcp_port: sip_tcp.port(),
                tls_port: sip_tls.map(|a| a.port()),
                ipv6: config.ipv6.zip(sip_udp6).map(|(v6, bound)| sip::Ipv6Side {
                    advertised: v6.advertised,
                    udp_port: bound.port(),
                    tcp_port: sip_tcp6.map(|a| a.port()),
                }),
                ..sip::Local::new(config.advertised_address, sip_udp.port())
            },
            default_country: config.default_country.clone(),
            failover_timeout: config.failover_timeout,
            reconnect_grace: config.reconnect_grace,
            velocity: sip::b2bua::velocity::VelocityLimit::from_limits(&config.limits),
            watch: fraud_watch(&database, &config, now.unix_ms).await?,
            ..B2buaConfig::new(
                config.advertised_address,
                sip_udp.port(),
                config.sip_domain.clone(),
            )
        },
        limits: Limits::default(),
    };
    let bans = db::load_bans(&database, now.unix).await?;
    let sip = transport::start_core(
        core_config,
        bans,
        listeners.udp.clone(),
        media,
        database.clone(),
        transport::DriverOptions {
            log_sip: config.log_sip,
            home_country: config.default_country.clone(),
            client_cert: cert.clone(),
        },
    );
    // The limits in force (saved by an admin, else the flags'), and what
    // they reached today: blocks survive a restart.
    let limits = limits::load(&database, &config.limits).await?;
    let today = transport::utc_day(now.unix_ms);
    let reached = limits::reached(
        &database,
        &limits,
        &config.default_country,
        today.start,
        None,
    )
    .await?;
    sip.send(CoreInput::Limits { limits, reached }).await;
    // Each call's progress, published by the SIP driver as the call
    // machines report it; the webhook delivers it.
    let call_events = sip.call_events();
    tokio::spawn(webhook::run(
        database.clone(),
        call_events.subscribe(),
        sip.alerts().subscribe(),
    ));
    tokio::spawn(metrics::count_alerts(sip.alerts().subscribe()));
    let mut agents = std::collections::BTreeSet::new();
    for credential in db::live_sip_credentials(&database, now.unix).await? {
        agents.insert(credential.account_id);
        sip.send(CoreInput::CredentialIssued(credential.into()))
            .await;
    }
    // Each signed-in agent's dialing profile, once per agent (an agent may
    // hold several sessions).
    for account_id in agents {
        if let Some(account) = db::account_by_id(&database, account_id).await? {
            let info = http::agent_info(&database, &account, &config).await?;
            sip.send(CoreInput::Agent(info)).await;
        }
    }
    let dns = Arc::new(dns::CarrierDns::new(
        config.dns_server,
        carriers::Families::of(&config),
    ));
    carriers::push(&database, demo_addr, &dns, &sip).await?;
    sip.send(CoreInput::Dids(dids::dids(&database).await?))
        .await;
    tokio::spawn(transport::udp::receive_loop(
        listeners.udp.main,
        sip.clone(),
    ));
    if let Some(udp6) = listeners.udp.ipv6 {
        tokio::spawn(transport::udp::receive_loop(udp6, sip.clone()));
    }
    if let Some(tcp6) = tcp6 {
        tokio::spawn(transport::tcp::accept_loop(tcp6, sip.clone()));
    }
    tokio::spawn(transport::tcp::accept_loop(listeners.tcp, sip.clone()));
    if let Some(cert) = &cert {
        tokio::spawn(transport::tls_server::reload_loop(
            cert.clone(),
            transport::tls_server::RELOAD_INTERVAL,
        ));
    }
    if let (Some(listener), Some(cert)) = (listeners.tls, &cert) {
        let acceptor =
            transport::tls_server::acceptor(cert.clone(), &[]).map_err(StartError::Tls)?;
        tokio::spawn(transport::tls::accept_loop(listener, acceptor, sip.clone()));
    }

    if config.web_client.is_built() {
        info!("{}", config.web_client.describe());
    } else {
        warn!(
            "{}; run `trunk build --release` (/ cannot be served until then)",
            config.web_client.describe()
        );
    }
    let grace = config.shutdown_grace;
    let state = http::AppState {
        db: database,
        sip: sip.clone(),
        config: Arc::new(config),
        demo_carrier: demo_addr,
        live: sip.live_calls(),
        sign_in_limits: Default::default(),
        dns,
    };
    // Carrier host names looked up again as their TTLs run out.
    tokio::spawn(dns::refresh(state.clone()));
    // `GET /metrics` on a listener of its own, without a token.
    let metrics = match state.config.metrics.listen {
        Some(addr) => {
            let bind_error = |source| StartError::Bind {
                what: "metrics",
                addr,
                source,
            };
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(bind_error)?;
            let bound = listener.local_addr().map_err(bind_error)?;
            let app = http::metrics_app(state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    warn!("metrics listener: {e}");
                }
            });
            Some(bound)
        }
        None => None,
    };
    let app = http::app(state).into_make_service_with_connect_info::<SocketAddr>();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let stop = async {
        let _ = stop.await;
    };
    let serving = match &cert {
        // HTTPS: the TLS handshake runs on a task of each connection's own
        // (`tls_server::accept_each`, which also sets TCP_NODELAY);
        // `tap_io` only makes axum give handlers the peer's address.
        Some(cert) => {
            let acceptor = transport::tls_server::acceptor(cert.clone(), &[b"http/1.1"])
                .map_err(StartError::Tls)?;
            let listener = transport::tls_server::HttpsListener::new(http_listener, acceptor)
                .map_err(|source| StartError::Bind {
                    what: "HTTPS",
                    addr: http,
                    source,
                })?
                .tap_io(|_| {});
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .into_future()
                .boxed()
        }
        // SIP over WebSocket sends small messages back to back (100 Trying,
        // then 180 or 200): with Nagle on, the second waits for the
        // browser's delayed ACK, ≈40 ms of post-dial delay per call.
        None => {
            let listener = http_listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY not set on an HTTP connection: {e}");
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .into_future()
                .boxed()
        }
    };
    let server = tokio::spawn(async move {
        if let Err(e) = serving.await {
            warn!("HTTP server: {e}");
        }
    });
    let https = cert.is_some();
    info!(%http, https, %sip_udp, %sip_tcp, ?sip_tls, ?sip_udp6, ?sip_tcp6, "gateway started");
    Ok(Running {
        http,
        sip_udp,
        sip_tcp,
        sip_tls,
        https,
        sip_udp6,
        sip_tcp6,
        first_start: seeded.is_some(),
        first_start_credentials: seeded.and_then(|s| s.credentials_file),
        demo_carrier: demo_addr,
        metrics,
        sip,
        grace,
        _demo: demo,
        shutdown,
        server,
        _data_lock: data_lock,
    })
}
