//! Events for integrations: `call.started`, `call.answered`, `call.ended`
//! and `alert.raised` (an [`Alert`], from [`crate::alerts`]) POSTed as JSON to the webhook URL of the embedding settings
//! (`PUT /api/v1/embed/settings`).
//!
//! The source is the call machines' own progress events
//! ([`crate::call_events`]): every call that starts yields `call.started`,
//! and `call.answered` if it was answered, and `call.ended`, however short
//! it was. What can still be lost, and is logged when it is: events this
//! consumer fell more than [`crate::call_events::CAPACITY`] behind on (a
//! warning with the count), and deliveries that failed four times (1 s, 5 s
//! and 30 s apart; a warning). Each event is delivered on its own, so a
//! receiver may get them out of order (a retried `call.started` after
//! `call.answered`): order them by `at_ms`. `call.ended` carries the call
//! record, read by its id once the driver has written it (up to ~2 s
//! after the event; `record` is `null` if it is not there by then).
//!
//! With a secret set, each POST is signed the way Stripe signs its webhooks:
//! `X-Dialer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`,
//! with a fresh `t` on every attempt. A receiver recomputes the HMAC over
//! the timestamp, a dot and the raw body, compares in constant time, and
//! refuses a `t` more than five minutes from its own clock ([`verify`] is
//! that check), so a captured delivery cannot be replayed later.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use shared::api::{Alert, CallRecord, LiveCall};
use tokio::sync::broadcast::{self, error::RecvError};
use tracing::{debug, warn};

use crate::call_events::{CallEvent, CallProgress};
use crate::db::{self, Db};

/// Waits before the 2nd, 3rd and 4th tries.
pub const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long `call.ended` waits for its record: the driver writes it just
/// after the call machine reports the end.
const RECORD_TRIES: u32 = 10;
const RECORD_WAIT: Duration = Duration::from_millis(200);
/// How far a signature's timestamp may be from the receiver's clock.
pub const TOLERANCE_S: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "call.started")]
    Started,
    #[serde(rename = "call.answered")]
    Answered,
    #[serde(rename = "call.ended")]
    Ended,
}

impl From<CallProgress> for Kind {
    fn from(p: CallProgress) -> Self {
        match p {
            CallProgress::Started => Kind::Started,
            CallProgress::Answered => Kind::Answered,
            CallProgress::Ended => Kind::Ended,
        }
    }
}

/// What is posted.
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub event: Kind,
    /// Unix milliseconds when it happened (not when it was sent).
    pub at_ms: i64,
    pub call: LiveCall,
    /// The id of the call's record (`GET /api/v1/calls` lists it once the
    /// call has ended).
    pub record_id: String,
    /// The call record, on `call.ended` (when it was found).
    pub record: Option<CallRecord>,
}

/// `X-Dialer-Signature` for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", v1(secret, t, body))
}

fn v1(secret: &str, t: i64, body: &str) -> String {
    crate::embed::hex(&crate::embed::mac(
        secret.as_bytes(),
        &format!("{t}.{body}"),
    ))
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the timestamp is more than {TOLERANCE_S} s from now")]
    Stale,
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// The receiver's check of `X-Dialer-Signature` (what a CRM does, written
/// here so that the scheme has one tested reference): a `t` within
/// [`TOLERANCE_S`] of `now_s`, and one `v1` equal to the HMAC of
/// `"<t>.<body>"`, compared in constant time.
pub fn verify(secret: &str, header: &str, body: &str, now_s: i64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => sigs.push(v),
            // Later schemes (v2, …) are skipped, as Stripe's receivers do.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now_s.abs_diff(t) > TOLERANCE_S.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let want = v1(secret, t, body);
    let same = |got: &str| {
        got.len() == want.len()
            && got
                .bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    };
    if sigs.into_iter().any(same) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// What `alert.raised` posts.
#[derive(Debug, Clone, Serialize)]
pub struct AlertPayload {
    /// Always `alert.raised`.
    pub event: &'static str,
    pub at_ms: i64,
    pub alert: Alert,
}

/// Runs for the life of the gateway: one delivery task per event (call
/// events and alerts).
pub async fn run(
    db: Db,
    mut events: broadcast::Receiver<CallEvent>,
    mut alerts: broadcast::Receiver<Alert>,
) {
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    tokio::spawn(deliver(db.clone(), event));
                }
                Err(RecvError::Lagged(lost)) => {
                    warn!(lost, "webhook: fell behind the call events; {lost} not sent");
                }
                Err(RecvError::Closed) => return,
            },
            alert = alerts.recv() => match alert {
                Ok(alert) => {
                    tokio::spawn(deliver_alert(db.clone(), alert));
                }
                Err(RecvError::Lagged(lost)) => {
                    warn!(lost, "webhook: fell behind the alerts; {lost} not sent");
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

async fn deliver_alert(db: Db, alert: Alert) {
    let payload = AlertPayload {
        event: "alert.raised",
        at_ms: alert.at.saturating_mul(1000),
        alert,
    };
    match serde_json::to_string(&payload) {
        Ok(body) => post_signed(&db, &body, "alert.raised").await,
        Err(e) => warn!(error = %e, "webhook: encoding the alert failed"),
    }
}

async fn deliver(db: Db, event: CallEvent) {
    let kind = Kind::from(event.kind);
    match db::webhook_target(&db).await {
        Ok(Some(_)) => {}
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "webhook: reading the settings failed");
            return;
        }
    }
    let record = if kind == Kind::Ended {
        record(&db, &event.record_id).await
    } else {
        None
    };
    let payload = Payload {
        event: kind,
        at_ms: event.at_ms,
        call: event.call,
        record_id: event.record_id,
        record,
    };
    let body = match serde_json::to_string(&payload) {
        Ok(body) => body,
        Err(e) => {
            warn!(error = %e, "webhook: encoding the event failed");
            return;
        }
    };
    let label = match kind {
        Kind::Started => "call.started",
        Kind::Answered => "call.answered",
        Kind::Ended => "call.ended",
    };
    post_signed(&db, &body, label).await;
}

/// POSTs `body` to the webhook URL, signed, with retries; `event` names it
/// in the logs.
async fn post_signed(db: &Db, body: &str, event: &str) {
    let target = match db::webhook_target(db).await {
        Ok(Some(target)) => target,
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "webhook: reading the settings failed");
            return;
        }
    };
    for attempt in 0..=BACKOFF.len() {
        if attempt > 0 {
            tokio::time::sleep(BACKOFF[attempt - 1]).await;
        }
        // Signed afresh on each attempt: a retry 36 s later is still
        // within the receiver's tolerance.
        let signed = target
            .secret
            .as_deref()
            .map(|s| signature(s, crate::transport::now().unix, body));
        match tokio::time::timeout(TIMEOUT, post(&target.url, body, signed.as_deref())).await {
            Ok(Ok(())) => {
                debug!(event, "webhook delivered");
                return;
            }
            Ok(Err(reason)) => debug!(attempt, %reason, "webhook attempt failed"),
            Err(_) => debug!(attempt, "webhook attempt timed out"),
        }
    }
    warn!(
        event,
        tries = BACKOFF.len() + 1,
        "webhook not delivered; giving up"
    );
}

/// The record `id`, once written (the driver writes it just after the call
/// machine reports the end).
async fn record(db: &Db, id: &str) -> Option<CallRecord> {
    for _ in 0..RECORD_TRIES {
        match db::call_record(db, id).await {
            Ok(Some(found)) => return Some(found),
            Ok(None) => {}
            Err(e) => debug!(error = %e, "webhook: reading the record failed"),
        }
        tokio::time::sleep(RECORD_WAIT).await;
    }
    warn!(
        record = id,
        "webhook: call.ended sent without its record (not written within 2 s)"
    );
    None
}

/// One POST; `Err` says why it did not get a 2xx.
async fn post(url: &str, body: &str, signature: Option<&str>) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|_| "bad URL".to_owned())?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().ok_or("no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut request = axum::http::Request::post(path)
        .header(
            "host",
            uri.authority().map_or(host.clone(), |a| a.to_string()),
        )
        .header("content-type", "application/json")
        .header("user-agent", "dialer-gateway-webhook");
    if let Some(sig) = signature {
        request = request.header("x-dialer-signature", sig);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .map_err(|e| format!("request: {e}"))?;
    let status = if https {
        let target = crate::transport::tls::TlsTarget {
            server_name: host.trim_matches(['[', ']']).to_owned(),
            ca_pem: None,
        };
        let (connector, name) = crate::transport::tls::connector(&target)?;
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        send(TokioIo::new(tls), request).await?
    } else {
        send(TokioIo::new(tcp), request).await?
    };
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

async fn send<T>(io: T, request: axum::http::Request<Full<Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    Ok(status)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use shared::api::{CallDirection, HangupBy, LiveCallState};
    use tokio::sync::mpsc;

    use super::*;
    use crate::call_events::{CAPACITY, CallEvents};

    const SECRET: &str = "whsec_test";

    #[test]
    fn the_signature_is_an_hmac_of_the_timestamp_a_dot_and_the_body() {
        // Computed apart, with Python's hmac module.
        assert_eq!(
            signature(SECRET, 1_700_000_000, r#"{"event":"call.started"}"#),
            "t=1700000000,v1=7e4e400393edb6135fe4a53ae1ea445cf435b61eec69eae34d07cd0827077fd3"
        );
    }

    #[test]
    fn a_receiver_accepts_a_fresh_signature_and_refuses_replays_and_forgeries() {
        let body = r#"{"event":"call.ended"}"#;
        let t = 1_700_000_000;
        let header = signature(SECRET, t, body);
        assert_eq!(verify(SECRET, &header, body, t), Ok(()));
        assert_eq!(verify(SECRET, &header, body, t + TOLERANCE_S), Ok(()));
        assert_eq!(verify(SECRET, &header, body, t - TOLERANCE_S), Ok(()));
        // The same delivery replayed later, or dated in the future.
        assert_eq!(
            verify(SECRET, &header, body, t + TOLERANCE_S + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, &header, body, t - TOLERANCE_S - 1),
            Err(SignatureError::Stale)
        );
        // A new timestamp on an old signature, another body, another key.
        let moved = header.replace("t=1700000000", "t=1700000100");
        assert_eq!(
            verify(SECRET, &moved, body, t + 100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, &header, r#"{"event":"call.started"}"#, t),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", &header, body, t),
            Err(SignatureError::Mismatch)
        );
        // Unknown schemes are skipped; any matching v1 will do.
        let extra = format!("v0=abc,{header},v1=00");
        assert_eq!(verify(SECRET, &extra, body, t), Ok(()));
        for bad in ["", "v1=ab", "t=1700000000", "t=x,v1=ab", "sha256=ab", "t"] {
            assert_eq!(
                verify(SECRET, bad, body, t),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    struct TempDb {
        db: Db,
        dir: std::path::PathBuf,
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn temp_db(webhook_url: &str) -> TempDb {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("gw-webhook-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("gw.db").display());
        let db = db::open(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO embed_settings (id, signing_key, webhook_url, webhook_secret)
             VALUES (1, 'k', ?, ?)",
        )
        .bind(webhook_url)
        .bind(SECRET)
        .execute(&db)
        .await
        .unwrap();
        TempDb { db, dir }
    }

    /// A CRM's webhook endpoint on a real socket: every POST's signature
    /// header and body, answered 204.
    async fn receiver() -> (String, mpsc::UnboundedReceiver<(Option<String>, String)>) {
        async fn hook(
            State(tx): State<mpsc::UnboundedSender<(Option<String>, String)>>,
            headers: HeaderMap,
            body: String,
        ) -> StatusCode {
            let sig = headers
                .get("x-dialer-signature")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let _ = tx.send((sig, body));
            StatusCode::NO_CONTENT
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(tx);
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, rx)
    }

    fn event(kind: CallProgress, at_ms: i64) -> CallEvent {
        CallEvent {
            kind,
            at_ms,
            call: LiveCall {
                id: "call-1".to_owned(),
                direction: CallDirection::Outbound,
                agent: Some("demo".to_owned()),
                caller_id: Some("+14155550100".to_owned()),
                dialled: "+14155550123".to_owned(),
                carrier_id: Some(shared::ids::CarrierId(1)),
                carrier: Some("Trunk".to_owned()),
                state: match kind {
                    CallProgress::Started => LiveCallState::Ringing,
                    _ => LiveCallState::Connected,
                },
                since_ms: at_ms,
            },
            record_id: "1700000000000-rec".to_owned(),
        }
    }

    fn record(id: &str) -> CallRecord {
        CallRecord {
            id: id.to_owned(),
            direction: CallDirection::Outbound,
            account_id: None,
            agent: Some("demo".to_owned()),
            caller_id: Some("+14155550100".to_owned()),
            dialled: "+14155550123".to_owned(),
            carrier_id: None,
            carrier: Some("Trunk".to_owned()),
            invite_at: 1_000,
            ringing_at: None,
            answered_at: Some(1_001),
            ended_at: 1_002,
            duration_s: 0,
            final_code: 200,
            final_reason: "OK".to_owned(),
            hangup_by: HangupBy::Agent,
            packets_to_carrier: 0,
            bytes_to_carrier: 0,
            packets_from_carrier: 0,
            bytes_from_carrier: 0,
            attempts: Vec::new(),
            estimated_cost: None,
            campaign_id: None,
            destination_country: None,
            quality: None,
        }
    }

    async fn next(
        rx: &mut mpsc::UnboundedReceiver<(Option<String>, String)>,
    ) -> (String, serde_json::Value) {
        let (sig, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a webhook POST within 10 s")
            .unwrap();
        let sig = sig.expect("a signature header");
        let now = crate::transport::now().unix;
        assert_eq!(verify(SECRET, &sig, &body, now), Ok(()), "{sig} {body}");
        (sig, serde_json::from_str(&body).unwrap())
    }

    #[tokio::test]
    async fn a_call_over_in_an_instant_still_sends_all_three_events_signed() {
        let (url, mut rx) = receiver().await;
        let db = temp_db(&url).await;
        let bus = CallEvents::new(CAPACITY);
        let alerts = crate::alerts::Alerts::default();
        tokio::spawn(run(db.db.clone(), bus.subscribe(), alerts.subscribe()));
        // Started, answered and ended back to back: no snapshot in between.
        bus.publish(event(CallProgress::Started, 1_000));
        bus.publish(event(CallProgress::Answered, 1_001));
        bus.publish(event(CallProgress::Ended, 1_002));
        // The driver writes the record just after the end event.
        tokio::time::sleep(Duration::from_millis(500)).await;
        db::insert_call_record(&db.db, &record("1700000000000-rec"))
            .await
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next(&mut rx).await.1);
        }
        got.sort_by_key(|e| e["at_ms"].as_i64());
        let kinds: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["call.started", "call.answered", "call.ended"]);
        for e in &got {
            assert_eq!(e["call"]["id"], "call-1");
            assert_eq!(e["record_id"], "1700000000000-rec");
        }
        assert!(got[0]["record"].is_null());
        assert_eq!(got[2]["record"]["id"], "1700000000000-rec");
        assert_eq!(got[2]["record"]["final_code"], 200);
        // Nothing more.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), rx.recv())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_consumer_that_lagged_goes_on_with_what_is_left() {
        let (url, mut rx) = receiver().await;
        let db = temp_db(&url).await;
        let bus = CallEvents::new(1);
        let events = bus.subscribe();
        // Three events into a bus of one before the consumer looks: it is
        // told two were lost (logged) and delivers the last.
        bus.publish(event(CallProgress::Started, 1_000));
        bus.publish(event(CallProgress::Answered, 1_001));
        let mut ended = event(CallProgress::Ended, 1_002);
        ended.record_id = "r-lag".to_owned();
        db::insert_call_record(&db.db, &record("r-lag"))
            .await
            .unwrap();
        bus.publish(ended);
        let alerts = crate::alerts::Alerts::default();
        tokio::spawn(run(db.db.clone(), events, alerts.subscribe()));
        let (_, got) = next(&mut rx).await;
        assert_eq!(got["event"], "call.ended");
        assert_eq!(got["record"]["id"], "r-lag");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), rx.recv())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_failing_endpoint_is_refused_and_a_working_one_gets_the_signed_body() {
        let (url, mut rx) = receiver().await;
        let body = r#"{"x":"a"}"#;
        let sig = signature(SECRET, crate::transport::now().unix, body);
        post(&url, body, Some(&sig)).await.unwrap();
        let (got_sig, got_body) = rx.recv().await.unwrap();
        assert_eq!(got_sig.as_deref(), Some(sig.as_str()));
        assert_eq!(got_body, body);
        assert!(post("http://127.0.0.1:1/", body, None).await.is_err());
        let missing = url.replace("/hook", "/nowhere");
        assert_eq!(post(&missing, body, None).await, Err("HTTP 404".to_owned()));
    }

    #[tokio::test]
    async fn an_alert_is_posted_as_alert_raised_signed() {
        let (url, mut rx) = receiver().await;
        let db = temp_db(&url).await;
        let bus = CallEvents::new(CAPACITY);
        let alerts = crate::alerts::Alerts::default();
        tokio::spawn(run(db.db.clone(), bus.subscribe(), alerts.subscribe()));
        let alert = db::insert_alert(&db.db, 1_700_000_000, "velocity", Some("demo"), "too fast")
            .await
            .unwrap();
        alerts.publish(alert);
        let (sig, got) = next(&mut rx).await;
        assert_eq!(got["event"], "alert.raised");
        assert_eq!(got["alert"]["kind"], "velocity");
        assert_eq!(got["alert"]["agent"], "demo");
        assert!(sig.starts_with("t="), "signed: {sig}");
    }
}
