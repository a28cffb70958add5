//! A call outlives the agent's connection: mid-call the test kills the
//! phone's TCP connection to the gateway (`ss -K`, in the test's own network
//! namespace). The phone shows "reconnecting", comes back on a new
//! WebSocket, registers again and resumes the call with an ICE restart;
//! audio flows both ways again and the carrier (SIPp) never hears a BYE. A
//! tab that never comes back ends the call once the grace is over.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::gateway::GatewayOptions;
use e2e::{Browser, Gateway, calls};
use shared::api::HangupBy;

const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;

/// Records every `data-state` `#call-state` takes from now on in
/// `window.__callStates` (the reconnecting state may last well under a
/// second: polling could miss it).
const WATCH_STATES: &str = r#"
window.__callStates = [];
const note = () => {
  const el = document.querySelector('#call-state');
  const state = el && el.getAttribute('data-state');
  const list = window.__callStates;
  if (state && list[list.length - 1] !== state) { list.push(state); }
};
new MutationObserver(note).observe(document.body,
  {subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']});
note();
"#;

const LOCAL_UFRAG: &str = r#"
const pc = window.__dialerPeer;
const sdp = pc && pc.localDescription ? pc.localDescription.sdp : '';
const m = sdp.match(/a=ice-ufrag:(\S+)/);
return m ? m[1] : null;
"#;

async fn local_ufrag(browser: &Browser) -> Result<String> {
    let value = browser.client()?.execute(LOCAL_UFRAG, vec![]).await?;
    value
        .as_str()
        .map(str::to_owned)
        .context("the page's local description has no ICE ufrag")
}

async fn call_states(browser: &Browser) -> Result<Vec<String>> {
    let value = browser
        .client()?
        .execute("return window.__callStates || [];", vec![])
        .await?;
    Ok(serde_json::from_value(value)?)
}

/// Kills every TCP connection to `port` from this namespace's side of the
/// client (the browser's WebSocket among them), as a network change would.
fn cut_connections_to(port: u16) -> Result<()> {
    let out = std::process::Command::new("ss")
        .args([
            "-K",
            "-t",
            "dst",
            "127.0.0.1",
            "dport",
            "=",
            &port.to_string(),
        ])
        .output()
        .context("running ss -K (iproute2)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success() && text.lines().count() > 1,
        "ss -K killed nothing: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test]
async fn the_call_resumes_after_the_phone_loses_its_connection() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut sipp = calls::echo_carrier(&gateway).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        let before = calls::connected_with_audio(&browser).await?;
        let ufrag_before = local_ufrag(&browser).await?;
        browser.client()?.execute(WATCH_STATES, vec![]).await?;

        cut_connections_to(gateway.http.port())?;
        let cut = tokio::time::Instant::now();

        // Back: the state left "connected", showed "reconnecting", and is
        // connected again with a new ICE ufrag (the restart).
        let states = e2e::eventually(
            "the phone back in the call",
            Duration::from_secs(10),
            || async {
                let states = call_states(&browser).await?;
                let back = states.len() >= 2
                    && states.iter().any(|s| s == "reconnecting")
                    && states.last().is_some_and(|s| s == "connected");
                Ok(back.then_some(states))
            },
        )
        .await?;
        ensure!(
            !states.iter().any(|s| s == "ended"),
            "the call never ended on the phone: {states:?}"
        );
        let ufrag_after = local_ufrag(&browser).await?;
        ensure!(
            ufrag_after != ufrag_before,
            "ICE was restarted (ufrag {ufrag_before} → {ufrag_after})"
        );
        browser.wait_for(CONNECTED, Duration::from_secs(1)).await?;

        // Audio both ways within 5 s of the cut: 50 more packets (1 s) at
        // the page with sound in them, and at the carrier.
        let probe = sipp.probe.as_ref().context("the carrier's RTP probe")?;
        let at_carrier = probe.count(0);
        let mut heard = false;
        while cut.elapsed() < Duration::from_secs(5) {
            let now = calls::audio_stats(&browser).await?;
            if now.packets_received >= before.packets_received + 50
                && now.audio_level > 0.0
                && probe.count(0) >= at_carrier + 50
            {
                heard = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ensure!(
            heard,
            "audio both ways within 5 s of the cut: page {:?}, carrier {} → {}",
            calls::audio_stats(&browser).await?,
            at_carrier,
            probe.count(0)
        );
        if let Some(bye) = sipp.received_request("BYE") {
            bail!("the carrier got a BYE while the phone reconnected: {bye}");
        }
        ensure!(
            sipp.received_request("INVITE").is_some_and(|_| sipp
                .messages()
                .matches("INVITE sip:")
                .count()
                == 1),
            "the carrier saw only the call's INVITE (no re-INVITE): {}",
            sipp.messages()
        );

        calls::hang_up(&browser).await?;
        sipp.wait(Duration::from_secs(15)).await?.ensure_success()?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.final_code == 200 && record.hangup_by == HangupBy::Agent,
            "{record:?}"
        );
        ensure!(record.final_reason == "Hung up by the agent", "{record:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_tab_that_never_comes_back_ends_the_call_after_the_grace() -> Result<()> {
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--reconnect-grace".to_owned(), "2".to_owned()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let mut sipp = calls::echo_carrier(&gateway).await?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "4155552671").await?;
        calls::connected_with_audio(&browser).await?;
        // The tab dies (its renderer crashes: no page-unload hang-up, the
        // kernel closes its sockets). Leaving the page on purpose would
        // hang up at once instead.
        let left = tokio::time::Instant::now();
        let crashed = browser.goto("chrome://crash").await;
        ensure!(crashed.is_err(), "chromedriver reports the crashed tab");
        let run = sipp.wait(Duration::from_secs(10)).await?;
        run.ensure_success()?;
        let waited = left.elapsed();
        ensure!(
            waited >= Duration::from_millis(1500),
            "the carrier leg waited for the phone ({waited:?})"
        );
        let bye = run
            .received_request("BYE")
            .context("a BYE at the carrier")?;
        ensure!(bye.contains("did not come back in 2 s"), "{bye}");
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(record.hangup_by == HangupBy::Agent, "{record:?}");
        ensure!(
            record.final_reason == "The agent's connection was lost and did not come back in 2 s",
            "{record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
