//! The HTTP application driven with `oneshot`, over a real SQLite file.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::config::{Args, Config};
use crate::sip::core::CoreConfig;
use crate::sip::registrar::RegistrarConfig;

struct TestApp {
    router: Router,
    /// Where the client's files would be (empty unless a test writes).
    static_dir: std::path::PathBuf,
    live: crate::live::LiveCalls,
    db: crate::db::Db,
    _dir: TempDir,
}

/// A directory removed when the test ends.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn test_app() -> TestApp {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gw-http-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = Config::resolve(Args {
        data_dir: Some(dir.clone()),
        sip_domain: Some("gw.test".into()),
        static_dir: Some(dir.join("static")),
        ..Args::default()
    })
    .unwrap();
    let db = crate::db::open(&config.database_url).await.unwrap();
    let hash = crate::auth::hash_password("right-password").unwrap();
    crate::db::insert_account(
        &db,
        "demo",
        "Demo Agent",
        shared::api::Role::Agent,
        &hash,
        0,
    )
    .await
    .unwrap();
    let admin_hash = crate::auth::hash_password("admin-password").unwrap();
    crate::db::insert_account(
        &db,
        "admin",
        "Administrator",
        shared::api::Role::Admin,
        &admin_hash,
        0,
    )
    .await
    .unwrap();
    let udp = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let media = crate::media::MediaEngine::new(crate::media::MediaConfig {
        bind_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        advertised_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        other_ips: Vec::new(),
        rtp_ports: 40000..=40999,
        no_media_timeout: std::time::Duration::from_secs(30),
        ipv6: None,
    })
    .unwrap();
    let sip = crate::transport::start_core(
        CoreConfig {
            registrar: RegistrarConfig::new("gw.test"),
            b2bua: crate::sip::b2bua::B2buaConfig::new(
                std::net::Ipv4Addr::LOCALHOST.into(),
                5060,
                "gw.test",
            ),
            limits: shared::sip::Limits::default(),
            guard: crate::guard::GuardConfig::default(),
        },
        Vec::new(),
        crate::transport::UdpSockets {
            main: udp,
            ipv6: None,
        },
        media,
        db.clone(),
        crate::transport::DriverOptions {
            home_country: "US".to_owned(),
            ..Default::default()
        },
    );
    let live = crate::live::LiveCalls::new();
    TestApp {
        live: live.clone(),
        static_dir: match &config.web_client {
            crate::web_client::WebClient::Directory(dir) => dir.clone(),
            crate::web_client::WebClient::Embedded => unreachable!("a static_dir was given"),
        },
        router: app(AppState {
            db: db.clone(),
            sip,
            config: Arc::new(config),
            demo_carrier: None,
            live: live.clone(),
            sign_in_limits: Default::default(),
            // Nothing answers there: a carrier named by a host name is
            // shown as not resolving, quickly.
            dns: Arc::new(crate::dns::CarrierDns::with_timeout(
                Some("127.0.0.1:9".parse().expect("address")),
                crate::carriers::Families {
                    ipv4: true,
                    ipv6: false,
                },
                std::time::Duration::from_millis(100),
            )),
        }),
        db,
        _dir: TempDir(dir),
    }
}

/// The address requests come from unless a test says otherwise.
const PEER: std::net::SocketAddr = std::net::SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    40000,
);

impl TestApp {
    /// Sends `request` as the server would hand it over: with the peer's
    /// address ([`PEER`] unless the request names one).
    async fn send(&self, mut request: Request<Body>) -> axum::response::Response {
        if request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .is_none()
        {
            request.extensions_mut().insert(ConnectInfo(PEER));
        }
        self.router.clone().oneshot(request).await.unwrap()
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        self.call_typed(method, uri, cookie, body.map(|b| ("application/json", b)))
            .await
    }

    /// A request with a body of any content type.
    async fn call_typed(
        &self,
        method: &str,
        uri: &str,
        cookie: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(c) = cookie {
            request = request.header(header::COOKIE, c);
        }
        let request = match body {
            Some((content_type, b)) => request
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(b.to_owned())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.send(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    /// A request with extra headers; the body comes back as bytes.
    async fn raw(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, &str)>,
    ) -> (StatusCode, axum::http::HeaderMap, bytes::Bytes) {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some((content_type, b)) => request
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(b.to_owned())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.send(request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes)
    }

    /// A JSON request as the account behind `cookie`; status and JSON back.
    async fn json(
        &self,
        method: &str,
        uri: &str,
        cookie: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let body = body.map(|b| b.to_string());
        let (status, _, json) = self.call(method, uri, Some(cookie), body.as_deref()).await;
        (status, json)
    }

    /// Creates an account through the API as `admin` and signs it in;
    /// returns its id and cookie.
    async fn account(&self, admin: &str, username: &str, role: &str) -> (i64, String) {
        let (status, agent) = self
            .json(
                "POST",
                "/api/v1/agents",
                admin,
                Some(
                    serde_json::json!({"username": username, "display_name": username,
                       "role": role, "password": "A-Good-Kettle-Password"}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{agent}");
        let (status, cookie, json) = self.sign_in_as(username, "A-Good-Kettle-Password").await;
        assert_eq!(status, StatusCode::OK, "{json}");
        (agent["id"].as_i64().unwrap(), cookie_pair(&cookie.unwrap()))
    }

    async fn sign_in(&self, password: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        self.sign_in_as("demo", password).await
    }

    async fn sign_in_as(
        &self,
        username: &str,
        password: &str,
    ) -> (StatusCode, Option<String>, serde_json::Value) {
        let body = serde_json::json!({"username": username, "password": password}).to_string();
        let (status, headers, json) = self
            .call("POST", "/api/v1/session", None, Some(&body))
            .await;
        let cookie = headers
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_owned());
        (status, cookie, json)
    }
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The `name=value` cookie of a signed-in `admin` and of the agent `demo`.
async fn admin_and_agent(app: &TestApp) -> (String, String) {
    let (status, admin, json) = app.sign_in_as("admin", "admin-password").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, agent, json) = app.sign_in("right-password").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    (cookie_pair(&admin.unwrap()), cookie_pair(&agent.unwrap()))
}

#[tokio::test]
async fn healthz_answers_ok() {
    let app = test_app().await;
    let (status, _, json) = app.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["status"], "ok");
}

#[tokio::test]
async fn sign_in_issues_an_http_only_cookie_and_a_sip_credential() {
    let app = test_app().await;
    let (status, cookie, json) = app.sign_in("right-password").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let cookie = cookie.expect("Set-Cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert_eq!(json["account"]["username"], "demo");
    assert_eq!(json["account"]["role"], "agent");
    assert_eq!(json["sip"]["aor"], "sip:demo@gw.test");
    assert_eq!(json["sip"]["realm"], "gw.test");
    assert_eq!(json["sip"]["password"].as_str().unwrap().len(), 64);

    // The session survives a page reload, with a fresh SIP credential.
    let pair = cookie_pair(&cookie);
    let (status, _, again) = app.call("GET", "/api/v1/session", Some(&pair), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(again["sip"]["password"], json["sip"]["password"]);

    // Signing out ends it.
    let (status, _, _) = app
        .call("DELETE", "/api/v1/session", Some(&pair), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, err) = app.call("GET", "/api/v1/session", Some(&pair), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["code"], "not_signed_in");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_json_error() {
    let app = test_app().await;
    let (status, cookie, json) = app.sign_in("wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(cookie.is_none());
    assert_eq!(json["code"], "invalid_credentials");
    let body = r#"{"username":"nobody","password":"x"}"#;
    let (status, _, json2) = app.call("POST", "/api/v1/session", None, Some(body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json2, json);
}

#[tokio::test]
async fn repeated_failures_lock_the_account() {
    let app = test_app().await;
    for _ in 0..5 {
        assert_eq!(app.sign_in("wrong").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, _, json) = app.sign_in("right-password").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json["code"], "account_locked");
}

#[tokio::test]
async fn malformed_bodies_get_json_errors_naming_the_problem() {
    let app = test_app().await;
    let (status, _, json) = app
        .call("POST", "/api/v1/session", None, Some("{not json"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["code"], "invalid_body");
    let (status, _, json) = app
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(r#"{"username":" ","password":"x"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["field"], "username");
    let (status, _, json) = app.call("GET", "/api/v1/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["code"], "not_found");
}

mod agents;
mod audit;
mod caller_ids;
mod calls;
mod carriers;
mod client_files;
mod dids;
mod edge;
mod embed;
mod live;
mod openapi;
mod policy;
mod quality;
mod rates;
mod security;
mod session;
mod tokens;
