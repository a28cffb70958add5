//! The caller ID the phone leaves to the gateway, and the webhooks a call
//! makes.
//!
//! 1. An agent with a default caller ID (a New York number) and local
//!    presence, allowed a Chicago number too, dials a Chicago number with the
//!    picker on "Automatic" (its default): the carrier (SIPp) sees the
//!    Chicago number in From and P-Asserted-Identity.
//! 2. A 1-second call (the carrier answers and hangs up after 1 s) makes
//!    `call.started`, `call.answered` and `call.ended` (with its record)
//!    at a webhook receiver on a local socket, each signed
//!    `t=<unix seconds>,v1=<HMAC-SHA256 of "<t>.<body>">`, checked here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use e2e::embed;
use e2e::sipp::{Sipp, SippOptions};
use e2e::{Browser, Gateway, calls, http};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const ENDED: &str = r#"#call-state[data-state="ended"]"#;
/// The agent's default caller ID: New York.
const DEFAULT_CID: &str = "+12125550100";
/// Allowed too, local to Chicago (312).
const CHICAGO_CID: &str = "+13125550111";
const SECRET: &str = "e2e-webhook-secret";

#[tokio::test]
async fn automatic_caller_id_presents_the_local_number_not_the_default() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = calls::echo_carrier(&gateway).await?;
    for (number, label) in [(DEFAULT_CID, "New York"), (CHICAGO_CID, "Chicago")] {
        calls::add_did(&gateway, number, label, "demo", None).await?;
    }
    let demo = calls::agent_named(&gateway, "demo").await?;
    calls::admin_put(
        &gateway,
        &format!("/api/v1/agents/{}", demo.id),
        json!({"display_name": demo.display_name, "role": demo.role,
               "enabled": true, "max_calls": demo.max_calls, "local_presence": true}),
    )
    .await?;
    calls::admin_put(
        &gateway,
        &format!("/api/v1/agents/{}/caller-ids", demo.id),
        json!({"default": DEFAULT_CID,
               "allowed": [{"number": DEFAULT_CID, "label": "Main line"},
                           {"number": CHICAGO_CID, "label": "Chicago"}]}),
    )
    .await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        // "Automatic" is chosen, though the agent has a default.
        let picked = browser
            .client()?
            .execute(
                "const s = document.querySelector('select#caller-id');
                 return [s.value, s.options[s.selectedIndex].text];",
                vec![],
            )
            .await
            .context("reading select#caller-id")?;
        ensure!(
            picked
                == json!([
                    "auto",
                    "Automatic (a local number, else Main line · +12125550100)"
                ]),
            "select#caller-id: {picked}"
        );
        calls::dial(&browser, "(312) 555-0199").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        calls::hang_up(&browser).await?;
        let run = sipp.wait(Duration::from_secs(15)).await?;
        run.ensure_success()?;
        let uri = run.logged("INVITE Request-URI:").unwrap_or_default();
        ensure!(uri.contains("+13125550199"), "Request-URI: {uri:?}");
        let from = run.logged("INVITE From:").unwrap_or_default();
        ensure!(from.contains(CHICAGO_CID), "From at the carrier: {from:?}");
        let pai = run
            .logged("INVITE P-Asserted-Identity:")
            .unwrap_or_default();
        ensure!(
            pai.contains(CHICAGO_CID),
            "P-Asserted-Identity at the carrier: {pai:?}"
        );
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.caller_id.as_deref() == Some(CHICAGO_CID),
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

/// One POST as the receiver got it.
struct Delivery {
    signature: Option<String>,
    body: String,
}

/// A webhook endpoint on a real socket: reads each request (one per
/// connection, as the gateway sends them), answers 204.
async fn receiver() -> Result<(u16, mpsc::UnboundedReceiver<Delivery>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(delivery) = read_request(&mut socket).await {
                    let _ = socket
                        .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = tx.send(delivery);
                }
            });
        }
    });
    Ok((port, rx))
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Result<Delivery> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = socket.read(&mut buf).await?;
        ensure!(n > 0, "the connection closed before the headers ended");
        seen.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .context("no content-length")?
        .parse()?;
    while seen.len() < head_end + length {
        let n = socket.read(&mut buf).await?;
        ensure!(n > 0, "the connection closed before the body ended");
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(Delivery {
        signature: header("x-dialer-signature"),
        body: String::from_utf8(seen[head_end..head_end + length].to_vec())?,
    })
}

/// The receiver's check: `t` within 5 minutes of now and `v1` the
/// HMAC-SHA256 of `"<t>.<body>"`.
fn check_signature(header: &str, body: &str) -> Result<()> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.parse::<u64>()?),
            Some(("v1", value)) => v1.push(value.to_owned()),
            _ => bail!("unexpected part {part:?} in {header:?}"),
        }
    }
    let t = t.context("no t=")?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    ensure!(now.abs_diff(t) <= 300, "t={t} is {now}-{t} s away from now");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes())?;
    mac.update(format!("{t}.{body}").as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ensure!(v1.contains(&want), "v1 {v1:?}, expected {want}");
    Ok(())
}

#[tokio::test]
async fn a_one_second_call_makes_three_signed_webhooks() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let (port, mut deliveries) = receiver().await?;
    embed::settings(
        &gateway,
        json!({"allowed_origins": [],
               "webhook_url": format!("http://127.0.0.1:{port}/dialer-events"),
               "webhook_secret": SECRET}),
    )
    .await?;
    let mut sipp = Sipp::start(SippOptions {
        args: vec!["-d".to_owned(), "1000".to_owned()],
        ..SippOptions::carrier("uas-answer-then-bye.xml")
    })
    .await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        browser.wait_for(ENDED, Duration::from_secs(15)).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;

        let mut events = Vec::new();
        while events.len() < 3 {
            let delivery = tokio::time::timeout(Duration::from_secs(15), deliveries.recv())
                .await
                .with_context(|| format!("3 webhooks within 15 s; got {events:?}"))?
                .context("the receiver stopped")?;
            let signature = delivery
                .signature
                .with_context(|| format!("no X-Dialer-Signature on {}", delivery.body))?;
            check_signature(&signature, &delivery.body)?;
            events.push(serde_json::from_str::<Value>(&delivery.body)?);
        }
        // Sent one by one, so ordered by when they happened.
        events.sort_by_key(|e| e["at_ms"].as_i64());
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
        ensure!(
            kinds == ["call.started", "call.answered", "call.ended"],
            "{events:?}"
        );
        let call_id = &events[0]["call"]["id"];
        ensure!(
            events.iter().all(|e| &e["call"]["id"] == call_id
                && e["record_id"] == record.id.as_str()
                && e["call"]["dialled"] == "+14155552671"),
            "{events:?}"
        );
        ensure!(
            events[2]["record"]["id"] == record.id.as_str(),
            "{events:?}"
        );
        let answered_for =
            events[2]["at_ms"].as_i64().unwrap_or(0) - events[1]["at_ms"].as_i64().unwrap_or(0);
        ensure!(
            (900..5000).contains(&answered_for),
            "answered → ended took {answered_for} ms: {events:?}"
        );
        // Nothing more for this one call.
        tokio::time::sleep(Duration::from_millis(500)).await;
        ensure!(deliveries.try_recv().is_err(), "a 4th webhook arrived");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

/// The velocity limit (`--agent-calls-per-minute 2`): a JsSIP phone's
/// third call in a minute is refused 403 with the reason, the Security
/// API lists the alert, and the webhook receiver gets `alert.raised`,
/// signed.
#[tokio::test]
async fn an_agent_over_the_calls_a_minute_limit_is_refused_and_alert_raised_is_posted() -> Result<()>
{
    const WAIT: Duration = Duration::from_secs(20);
    let mut gateway = Gateway::start_with(e2e::GatewayOptions {
        args: vec!["--agent-calls-per-minute".to_owned(), "2".to_owned()],
        ..Default::default()
    })
    .await?;
    let (port, mut deliveries) = receiver().await?;
    embed::settings(
        &gateway,
        json!({"allowed_origins": [],
               "webhook_url": format!("http://127.0.0.1:{port}/dialer-events"),
               "webhook_secret": SECRET}),
    )
    .await?;
    let session = gateway.sign_in("demo", &gateway.demo_password).await?;
    let credential = session.info.sip.clone().context("demo's SIP credential")?;
    let browser = Browser::start().await?;
    let result = async {
        browser.goto(&gateway.url("/healthz")).await?;
        let phone =
            e2e::jssip::JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        phone.wait_state("registered", WAIT).await?;
        // The demo carrier answers numbers ending in 486 busy, at once.
        for _ in 0..2 {
            phone.call("+14155550486").await?;
            let state = phone.wait_state("failed", WAIT).await?;
            ensure!(state.status == Some(486), "{state:?}");
        }
        phone.call("+14155550486").await?;
        let state = phone.wait_state("failed", WAIT).await?;
        ensure!(state.status == Some(403), "{state:?}");
        let reason = state.reason.clone().unwrap_or_default();
        ensure!(reason.contains("over 2 calls a minute"), "{reason:?}");

        let alert = loop {
            let delivery = tokio::time::timeout(Duration::from_secs(15), deliveries.recv())
                .await
                .context("alert.raised within 15 s")?
                .context("the receiver stopped")?;
            let signature = delivery.signature.context("unsigned delivery")?;
            check_signature(&signature, &delivery.body)?;
            let event: Value = serde_json::from_str(&delivery.body)?;
            if event["event"] == "alert.raised" {
                break event;
            }
        };
        ensure!(
            alert["alert"]["kind"] == "velocity" && alert["alert"]["agent"] == "demo",
            "{alert}"
        );
        let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
        let listed: Value = http::get(
            &gateway.url("/api/v1/security/alerts"),
            &[("cookie", admin.cookie.as_str())],
        )
        .await?
        .json()?;
        ensure!(listed[0]["id"] == alert["alert"]["id"], "{listed}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
