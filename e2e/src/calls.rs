//! Steps the call tests share: sign the demo agent in, dial, read WebRTC
//! statistics from the page, fetch call records.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use shared::api::{CallRecord, Page};

use crate::{Browser, Gateway, http};

/// SIPp as the carrier, answering with `uas-answer-echo.xml` and its RTP
/// through the test's probe (which echoes and records), added to the
/// gateway as the carrier "SIPp".
pub async fn echo_carrier(gateway: &Gateway) -> Result<crate::sipp::Sipp> {
    use crate::sipp::{Sipp, SippMedia, SippOptions};
    let sipp = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    add_carrier(gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    Ok(sipp)
}

/// Signs `demo` in through the page and waits for "Registered".
pub async fn sign_in_agent(browser: &Browser, gateway: &Gateway) -> Result<()> {
    browser.goto(&gateway.url("/")).await?;
    browser
        .wait_for("input#username", Duration::from_secs(30))
        .await?;
    browser.fill("input#username", "demo").await?;
    browser
        .fill("input#password", &gateway.demo_password)
        .await?;
    browser.click("button#sign-in").await?;
    browser
        .wait_for(
            r#"#registration-state[data-state="registered"]"#,
            Duration::from_secs(15),
        )
        .await?;
    Ok(())
}

/// Types `number` and presses the call button.
pub async fn dial(browser: &Browser, number: &str) -> Result<()> {
    browser.fill("input#dial-number", number).await?;
    browser
        .wait_for(
            r#"#dial-normalized[data-valid="true"]"#,
            Duration::from_secs(5),
        )
        .await?;
    browser.click("button#call").await
}

/// Audio statistics of the page's current call (`window.__dialerPeer`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AudioStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub audio_level: f64,
}

const STATS_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const pc = window.__dialerPeer;
if (!pc) { done({packets_received: 0, packets_sent: 0, audio_level: 0}); return; }
pc.getStats().then((report) => {
  const out = {packets_received: 0, packets_sent: 0, audio_level: 0};
  report.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.packets_received += s.packetsReceived || 0;
      out.audio_level = Math.max(out.audio_level, s.audioLevel || 0);
    }
    if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      out.packets_sent += s.packetsSent || 0;
    }
  });
  done(out);
}, () => done({packets_received: 0, packets_sent: 0, audio_level: 0}));
"#;

pub async fn audio_stats(browser: &Browser) -> Result<AudioStats> {
    let value = browser
        .client()?
        .execute_async(STATS_SCRIPT, vec![])
        .await
        .context("reading getStats() from the page")?;
    Ok(serde_json::from_value(value)?)
}

const PAIR_SCRIPT: &str = r#"
const done = arguments[arguments.length - 1];
const pc = window.__dialerPeer;
if (!pc) { done(null); return; }
pc.getStats().then((report) => {
  let pairId = null;
  report.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) { pairId = s.selectedCandidatePairId; }
  });
  const pair = pairId && report.get(pairId);
  if (!pair) { done(null); return; }
  const local = report.get(pair.localCandidateId) || {};
  const remote = report.get(pair.remoteCandidateId) || {};
  done({local_type: local.candidateType || '', local_address: local.address || '',
        remote_address: remote.address || '', remote_port: remote.port || 0});
}, () => done(null));
"#;

/// The ICE candidate pair the page's call uses (`getStats()`).
#[derive(Debug, Clone, Deserialize)]
pub struct SelectedPair {
    /// `host`, `srflx`, `prflx` or `relay`.
    pub local_type: String,
    pub local_address: String,
    pub remote_address: String,
    pub remote_port: u16,
}

/// The selected candidate pair, once there is one.
pub async fn selected_pair(browser: &Browser) -> Result<Option<SelectedPair>> {
    let value = browser
        .client()?
        .execute_async(PAIR_SCRIPT, vec![])
        .await
        .context("reading getStats() from the page")?;
    Ok(serde_json::from_value(value)?)
}

/// Waits until the page has received `packets` audio packets with a
/// non-zero level.
pub async fn wait_for_audio(
    browser: &Browser,
    packets: u64,
    timeout: Duration,
) -> Result<AudioStats> {
    let mut last = AudioStats::default();
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        last = audio_stats(browser).await?;
        if last.packets_received >= packets && last.audio_level > 0.0 {
            return Ok(last);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("no audio from the far end within {timeout:?}: {last:?}")
}

/// Waits for the call to connect (20 s) and the far end's audio to play
/// (50 packets, 15 s).
pub async fn connected_with_audio(browser: &Browser) -> Result<AudioStats> {
    browser
        .wait_for(crate::incoming::CONNECTED, Duration::from_secs(20))
        .await?;
    wait_for_audio(browser, 50, Duration::from_secs(15)).await
}

/// Clicks Hang up and waits (10 s) for the phone to show the call ended.
pub async fn hang_up(browser: &Browser) -> Result<()> {
    browser.click("button#hangup").await?;
    browser
        .wait_for(crate::incoming::ENDED, Duration::from_secs(10))
        .await?;
    Ok(())
}

/// The newest call record `username` can see, once there is one.
pub async fn last_record(
    gateway: &Gateway,
    username: &str,
    password: &str,
    timeout: Duration,
) -> Result<CallRecord> {
    let session = gateway.sign_in(username, password).await?;
    crate::eventually("a call record", timeout, || async {
        let response = http::get(
            &gateway.url("/api/v1/calls?limit=1"),
            &[("cookie", session.cookie.as_str())],
        )
        .await?;
        if response.status != 200 {
            bail!(
                "GET /api/v1/calls answered {}: {}",
                response.status,
                response.text()
            );
        }
        let page: Page<CallRecord> = response.json()?;
        Ok(page.items.into_iter().next())
    })
    .await
}

/// The demo agent's newest call record (waiting up to 10 s for it).
pub async fn demo_last_record(gateway: &Gateway) -> Result<CallRecord> {
    last_record(
        gateway,
        "demo",
        &gateway.demo_password,
        Duration::from_secs(10),
    )
    .await
}

/// Waits up to 5 s until the SIPp carrier's RTP probe has counted more than
/// `packets` PCMU packets from the gateway.
pub async fn carrier_hears(sipp: &crate::sipp::Sipp, packets: usize) -> Result<()> {
    let probe = sipp
        .probe
        .as_ref()
        .context("the carrier has no RTP probe (SippMedia::Probe)")?;
    crate::eventually(
        "PCMU packets at the carrier",
        Duration::from_secs(5),
        || async { Ok((probe.count(0) > packets).then_some(())) },
    )
    .await
}

/// Adds a carrier through the API as `admin`; it is tried first (priority 1).
pub async fn add_carrier(
    gateway: &Gateway,
    name: &str,
    sip_addr: std::net::SocketAddr,
    configure: impl FnOnce(&mut shared::api::CarrierInput),
) -> Result<shared::api::Carrier> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let mut input = shared::api::CarrierInput {
        name: name.to_owned(),
        host: sip_addr.ip().to_string(),
        port: sip_addr.port(),
        transport: shared::api::SipTransport::Udp,
        username: None,
        secret: None,
        from_user: None,
        from_domain: None,
        caller_id: None,
        codecs: vec!["PCMU".to_owned(), "PCMA".to_owned()],
        priority: 1,
        number_format: shared::api::NumberFormat::E164,
        tech_prefix: String::new(),
        enabled: true,
        inbound_sources: Vec::new(),
        inbound_number_from: Default::default(),
        realm: None,
        weight: 1,
        max_channels: None,
        register: false,
        register_expiry_s: 3600,
        qualify: false,
        qualify_interval_s: 30,
        tls_ca: None,
        srtp: Default::default(),
    };
    configure(&mut input);
    let response = http::post_json(
        &gateway.url("/api/v1/carriers"),
        serde_json::to_vec(&input)?,
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    if response.status != 201 {
        bail!(
            "POST /api/v1/carriers answered {}: {}",
            response.status,
            response.text()
        );
    }
    response.json()
}

/// Creates a DID routed to `agent` (admin API), delivered by `carrier_id`.
pub async fn add_did(
    gateway: &Gateway,
    number: &str,
    label: &str,
    agent: &str,
    carrier_id: Option<i64>,
) -> Result<shared::api::Did> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let input = shared::api::DidInput {
        number: number.to_owned(),
        label: label.to_owned(),
        carrier_id,
        route: shared::api::DidRoute::Agent,
        agent: Some(agent.to_owned()),
        group_id: None,
        reject_code: None,
        enabled: true,
    };
    let response = http::post_json(
        &gateway.url("/api/v1/dids"),
        serde_json::to_vec(&input)?,
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    if response.status != 201 {
        bail!(
            "POST /api/v1/dids answered {}: {}",
            response.status,
            response.text()
        );
    }
    response.json()
}

/// `PUT` `body` (JSON) to `path` as admin; `Ok` on 200.
pub async fn admin_put(gateway: &Gateway, path: &str, body: serde_json::Value) -> Result<()> {
    admin_put_raw(
        gateway,
        path,
        "application/json",
        serde_json::to_vec(&body)?,
    )
    .await
}

/// `PUT` `body` of `content_type` to `path` as admin; `Ok` on 200.
pub async fn admin_put_raw(
    gateway: &Gateway,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<()> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::request(
        hyper::Method::PUT,
        &gateway.url(path),
        &[
            ("cookie", admin.cookie.as_str()),
            ("content-type", content_type),
        ],
        Some(body),
    )
    .await?;
    if response.status != 200 {
        bail!(
            "PUT {path} answered {}: {}",
            response.status,
            response.text()
        );
    }
    Ok(())
}

/// The agent `username` as the admin API shows it.
pub async fn agent_named(gateway: &Gateway, username: &str) -> Result<shared::api::Agent> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::get(
        &gateway.url("/api/v1/agents?limit=100"),
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    let page: shared::api::Page<shared::api::Agent> = response.json()?;
    page.items
        .into_iter()
        .find(|a| a.username == username)
        .with_context(|| format!("no agent `{username}`"))
}

/// Replaces the built-in demo carrier's rate table with `csv` (admin API,
/// `PUT /api/v1/carriers/{id}/rates`).
pub async fn set_demo_carrier_rates(gateway: &Gateway, csv: &str) -> Result<()> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let cookie = [("cookie", admin.cookie.as_str())];
    let carriers: shared::api::Page<shared::api::Carrier> =
        http::get(&gateway.url("/api/v1/carriers?limit=100"), &cookie)
            .await?
            .json()?;
    let demo = carriers
        .items
        .iter()
        .find(|c| c.is_demo)
        .context("no demo carrier")?;
    let path = format!("/api/v1/carriers/{}/rates", demo.id);
    admin_put_raw(gateway, &path, "text/csv", csv.as_bytes().to_vec()).await
}
