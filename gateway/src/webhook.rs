//! Call events for integrations: `call.started`, `call.answered` and
//! `call.ended` POSTed as JSON to the webhook URL of the embedding settings
//! (`PUT /api/v1/embed/settings`), signed with
//! `X-Dialer-Signature: sha256=<hex HMAC-SHA256 of the body>` when a secret
//! is set, retried after 1 s, 5 s and 30 s, then given up (logged).
//!
//! The source is the live-call registry (`live`): each new snapshot is
//! compared with the previous one ([`diff`]). A viewer of a `watch` channel
//! may skip intermediate snapshots; a call that rang and was answered
//! between two looks is reported as started and answered at once, so no
//! event is lost, only their timing is coarser.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use shared::api::{CallRecord, LiveCall, LiveCallState};
use sqlx::Row;
use tracing::{debug, warn};

use crate::db::{self, Db};
use crate::live::LiveCalls;

/// Waits before the 2nd, 3rd and 4th tries.
pub const BACKOFF: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Kind {
    #[serde(rename = "call.started")]
    Started,
    #[serde(rename = "call.answered")]
    Answered,
    #[serde(rename = "call.ended")]
    Ended,
}

/// What is posted.
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub event: Kind,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub call: LiveCall,
    /// The call record, on `call.ended` (when it was found).
    pub record: Option<CallRecord>,
}

/// The events between two snapshots of the live calls.
pub fn diff(before: &[LiveCall], now: &[LiveCall]) -> Vec<(Kind, LiveCall)> {
    let answered = |c: &LiveCall| c.state != LiveCallState::Ringing;
    let mut out = Vec::new();
    for call in now {
        match before.iter().find(|b| b.id == call.id) {
            None => {
                out.push((Kind::Started, call.clone()));
                if answered(call) {
                    out.push((Kind::Answered, call.clone()));
                }
            }
            Some(old) if !answered(old) && answered(call) => {
                out.push((Kind::Answered, call.clone()));
            }
            Some(_) => {}
        }
    }
    for gone in before.iter().filter(|b| !now.iter().any(|c| c.id == b.id)) {
        out.push((Kind::Ended, gone.clone()));
    }
    out
}

/// `X-Dialer-Signature` for `body`.
pub fn signature(secret: &str, body: &str) -> String {
    format!(
        "sha256={}",
        crate::embed::hex(&crate::embed::mac(secret.as_bytes(), body))
    )
}

/// Runs for the life of the gateway.
pub async fn run(db: Db, live: LiveCalls) {
    let mut rx = live.subscribe();
    let mut before = rx.borrow_and_update().clone();
    while rx.changed().await.is_ok() {
        let now = rx.borrow_and_update().clone();
        for (kind, call) in diff(&before, &now) {
            tokio::spawn(deliver(db.clone(), kind, call));
        }
        before = now;
    }
}

async fn deliver(db: Db, kind: Kind, call: LiveCall) {
    let at_ms = crate::transport::now().unix_ms;
    let target = match settings(&db).await {
        Ok(Some(target)) => target,
        Ok(None) => return,
        Err(e) => {
            warn!(error = %e, "webhook: reading the settings failed");
            return;
        }
    };
    let record = if kind == Kind::Ended {
        record(&db, &call.id).await
    } else {
        None
    };
    let payload = Payload {
        event: kind,
        at_ms,
        call,
        record,
    };
    let body = match serde_json::to_string(&payload) {
        Ok(body) => body,
        Err(e) => {
            warn!(error = %e, "webhook: encoding the event failed");
            return;
        }
    };
    let signed = target.1.as_deref().map(|s| signature(s, &body));
    for attempt in 0..=BACKOFF.len() {
        if attempt > 0 {
            tokio::time::sleep(BACKOFF[attempt - 1]).await;
        }
        match tokio::time::timeout(TIMEOUT, post(&target.0, &body, signed.as_deref())).await {
            Ok(Ok(())) => {
                debug!(event = ?kind, "webhook delivered");
                return;
            }
            Ok(Err(reason)) => debug!(attempt, %reason, "webhook attempt failed"),
            Err(_) => debug!(attempt, "webhook attempt timed out"),
        }
    }
    warn!(event = ?kind, tries = BACKOFF.len() + 1, "webhook not delivered; giving up");
}

/// The URL and secret, when a webhook is set.
async fn settings(db: &Db) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    let row = sqlx::query("SELECT webhook_url, webhook_secret FROM embed_settings WHERE id = 1")
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let url: Option<String> = row.try_get("webhook_url")?;
    let secret: Option<String> = row.try_get("webhook_secret")?;
    Ok(url.map(|u| (u, secret)))
}

/// The record of call `id`, once written (the driver writes it as the call
/// ends, around when it leaves the live list).
async fn record(db: &Db, id: &str) -> Option<CallRecord> {
    for _ in 0..10 {
        if let Ok(records) = db::call_records(db, &db::CallFilter::default(), None, 50).await
            && let Some(found) = records.into_iter().find(|r| r.id == id)
        {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
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
    use shared::api::CallDirection;

    use super::*;

    fn call(id: &str, state: LiveCallState) -> LiveCall {
        LiveCall {
            id: id.to_owned(),
            direction: CallDirection::Outbound,
            agent: Some("demo".to_owned()),
            caller_id: None,
            dialled: "+14155550100".to_owned(),
            carrier_id: None,
            carrier: None,
            state,
            since_ms: 0,
        }
    }

    fn kinds(events: &[(Kind, LiveCall)]) -> Vec<(Kind, &str)> {
        events.iter().map(|(k, c)| (*k, c.id.as_str())).collect()
    }

    #[test]
    fn snapshots_become_started_answered_and_ended() {
        let ringing = [call("a", LiveCallState::Ringing)];
        let up = [call("a", LiveCallState::Connected)];
        let held = [call("a", LiveCallState::Held)];
        assert_eq!(kinds(&diff(&[], &ringing)), [(Kind::Started, "a")]);
        assert_eq!(kinds(&diff(&ringing, &up)), [(Kind::Answered, "a")]);
        assert_eq!(kinds(&diff(&up, &held)), []);
        assert_eq!(kinds(&diff(&held, &[])), [(Kind::Ended, "a")]);
        // Both changes between two looks: nothing lost.
        assert_eq!(
            kinds(&diff(&[], &up)),
            [(Kind::Started, "a"), (Kind::Answered, "a")]
        );
    }

    #[test]
    fn the_signature_is_an_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn a_failing_endpoint_is_retried_and_a_working_one_gets_the_signed_body() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("\"a\"}") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            socket
                .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&seen).into_owned()
        });
        let body = r#"{"x":"a"}"#;
        post(&url, body, Some(&signature("k", body))).await.unwrap();
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        assert!(request.contains(&format!("x-dialer-signature: {}", signature("k", body))));
        assert!(post("http://127.0.0.1:1/", body, None).await.is_err());
    }
}
