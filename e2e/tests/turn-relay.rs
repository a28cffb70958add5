//! TURN: the gateway runs with coturn (`--turn-urls`, the shared secret in
//! `GATEWAY_TURN_SECRET`) and `--ice-relay-only`, so the Chromium phone may
//! use only relayed candidates. The agent signs in, is handed the TURN
//! server with short-lived credentials (TURN REST: `<expiry>:demo`), calls
//! the demo carrier and has audio both ways: the demo carrier's prompt and
//! echo reach the page, the page's microphone reaches the carrier (the
//! call record counts it). The page's selected ICE pair is a `relay`
//! candidate, and coturn logged the allocation for `demo`.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::turn::{Coturn, SECRET};
use e2e::{Browser, Gateway, GatewayOptions, calls, http};
use shared::api::SessionInfo;

#[tokio::test]
async fn a_relay_only_browser_call_through_coturn_has_audio_both_ways() -> Result<()> {
    let coturn = Coturn::start().await?;
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec![
            "--turn-urls".to_owned(),
            coturn.url(),
            "--ice-relay-only".to_owned(),
        ],
        env: vec![("GATEWAY_TURN_SECRET".to_owned(), SECRET.to_owned())],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;

    // What the phone is handed: the TURN server, a username that expires
    // with the SIP credential, and relay-only.
    let session = gateway.sign_in("demo", &gateway.demo_password).await?;
    let info: SessionInfo = http::get(
        &gateway.url("/api/v1/session"),
        &[("cookie", session.cookie.as_str())],
    )
    .await?
    .json()?;
    let sip = info.sip.context("demo's SIP credential")?;
    ensure!(sip.ice.relay_only, "{:?}", sip.ice);
    let turn = sip.ice.servers.first().context("no ICE server")?;
    ensure!(turn.urls == [coturn.url()], "{turn:?}");
    ensure!(
        turn.username.as_deref() == Some(&format!("{}:demo", sip.expires_at)),
        "{turn:?}"
    );
    ensure!(
        !gateway.log().contains(SECRET),
        "the TURN secret is in the gateway's log"
    );

    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "(415) 555-2671").await?;
        let stats = calls::connected_with_audio(&browser).await?;
        ensure!(stats.packets_sent > 0, "the browser sent no RTP: {stats:?}");
        let pair = calls::selected_pair(&browser)
            .await?
            .context("no selected ICE pair")?;
        ensure!(pair.local_type == "relay", "not relayed: {pair:?}");
        // Let the echo run a little, then hang up.
        tokio::time::sleep(Duration::from_secs(2)).await;
        calls::hang_up(&browser).await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.packets_to_carrier > 50 && record.packets_from_carrier > 50,
            "RTP both ways through the relay: {record:?}"
        );
        let log = coturn.log();
        if !log.contains("demo") {
            bail!(
                "coturn logged no session for demo:\n{}",
                e2e::tail(&log, 30)
            );
        }
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
