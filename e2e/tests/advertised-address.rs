//! Addresses that just work: in the test's own network namespace the test
//! adds a veth pair (`e2eveth0` 10.99.0.1/24, its peer `e2eveth1` without
//! an address) and starts the gateway with SIP on `0.0.0.0` and no
//! `--advertised-address`. The gateway says at start which address it
//! picked and why, names 10.99.0.1 in SDP (`c=` and the ICE candidate) and
//! the Chromium phone's call to the demo carrier has audio both ways over
//! it: the browser's selected ICE pair is 10.99.0.1, not loopback. The
//! veth pair is removed at the end.
//!
//! Both ends of the pair are in the one namespace the tests run in (see
//! `scripts/test.sh`); the test refuses to touch a namespace with any
//! other interface than `lo`, so it never changes the host's network.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::{Browser, Gateway, GatewayOptions, calls};

const ADDRESS: &str = "10.99.0.1";

/// Runs `ip ARGS`.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The veth pair, removed when dropped.
struct Veth;

impl Veth {
    fn add() -> Result<Veth> {
        // Netlink, not /sys/class/net: sysfs shows the namespace it was
        // mounted in, not this process's.
        let out = Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .context("running ip (iproute2)")?;
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            .collect();
        if let Some(other) = names
            .iter()
            .find(|n| *n != "lo" && !n.starts_with("e2eveth"))
        {
            bail!(
                "this test adds a veth pair and must run in a network namespace of its own \
                 (scripts/test.sh runs the tests under `unshare --net`); found interface {other}"
            );
        }
        // A pair left by an interrupted run goes first.
        let _ = ip(&["link", "del", "e2eveth0"]);
        ip(&[
            "link", "add", "e2eveth0", "type", "veth", "peer", "name", "e2eveth1",
        ])?;
        let veth = Veth;
        ip(&["addr", "add", &format!("{ADDRESS}/24"), "dev", "e2eveth0"])?;
        ip(&["link", "set", "e2eveth0", "up"])?;
        ip(&["link", "set", "e2eveth1", "up"])?;
        Ok(veth)
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if let Err(e) = ip(&["link", "del", "e2eveth0"]) {
            eprintln!("removing the veth pair: {e}");
        }
    }
}

#[tokio::test]
async fn on_all_interfaces_the_gateway_advertises_the_veth_address_and_calls_work() -> Result<()> {
    let _veth = Veth::add()?;
    let mut gateway = Gateway::start_with(GatewayOptions {
        all_interfaces: true,
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let log = gateway.log();
    ensure!(
        log.contains(&format!(
            "advertised address {ADDRESS}: {ADDRESS} of interface e2eveth0"
        )),
        "no start-up line naming the address and why:\n{}",
        e2e::tail(&log, 20)
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
        ensure!(
            pair.remote_address == ADDRESS,
            "the browser talks to {pair:?}, not {ADDRESS}"
        );
        let log = gateway.log();
        let candidate = log
            .lines()
            .any(|l| l.starts_with("a=candidate:") && l.contains(&format!(" {ADDRESS} ")));
        ensure!(
            log.contains(&format!("c=IN IP4 {ADDRESS}")) && candidate,
            "the gateway's SDP does not name {ADDRESS}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        calls::hang_up(&browser).await?;
        let record = calls::demo_last_record(&gateway).await?;
        ensure!(
            record.packets_to_carrier > 50 && record.packets_from_carrier > 50,
            "RTP both ways: {record:?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
