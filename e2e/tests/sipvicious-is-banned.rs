//! The real SIPVicious tools (PyPI `sipvicious`, installed by
//! `scripts/test.sh` into `<target>/sv-venv`) against the gateway, from
//! their own loopback address (127.0.0.5):
//!
//! 1. `svwar` (extension scan) finds no extension: its first REGISTER
//!    names it (`User-Agent: friendly-scanner`) and the source is banned on
//!    the spot; nothing more comes back.
//! 2. `svcrack` (password guessing) against the real agent `demo` gets no
//!    answer at all, and finds nothing; the ban counts what it refused.
//! 3. Meanwhile the real agent signs in from 127.0.0.1 and places a call.
//! 4. The ban is on the Security API, is kept across a restart, and an
//!    admin lifts it.
//!
//! Ten failed authentications from a client that does not say it is a
//! scanner ban it too: the SIP core's tests drive that
//! (`sip::core::tests::ten_refused_registrations_ban_the_source…`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::{Browser, Gateway, calls, http};
use shared::api::BanEntry;

const ATTACKER: &str = "127.0.0.5";

/// `<target>/sv-venv/bin/<tool>`.
fn tool(name: &str) -> Result<PathBuf> {
    let target = e2e::profile_dir()
        .parent()
        .map(std::path::Path::to_path_buf)
        .context("no target directory")?;
    let path = target.join("sv-venv/bin").join(name);
    if !path.exists() {
        bail!(
            "{} is missing: scripts/test.sh installs SIPVicious (python3 -m venv target/sv-venv && target/sv-venv/bin/pip install sipvicious)",
            path.display()
        );
    }
    Ok(path)
}

/// SIPVicious 0.3 parses `-b` (bind address) but never hands it to its
/// scanners, which bind to every address, so on loopback they would speak
/// from 127.0.0.1. This `sitecustomize` (found through `PYTHONPATH`) binds
/// their sockets to [`ATTACKER`] instead; the tools themselves are as
/// PyPI ships them.
const PIN_ADDRESS: &str = concat!(
    "import socket\n",
    "_bind = socket.socket.bind\n",
    "def _pinned(self, address):\n",
    "    if isinstance(address, tuple) and address[0] in ('', '0.0.0.0'):\n",
    "        address = ('127.0.0.5',) + tuple(address[1:])\n",
    "    return _bind(self, address)\n",
    "socket.socket.bind = _pinned\n",
);

/// Runs a SIPVicious tool for at most `limit`, from [`ATTACKER`]; its
/// output (stdout and stderr).
async fn run(name: &str, args: &[String], limit: Duration) -> Result<String> {
    let pin = std::env::temp_dir().join(format!("sv-pin-{}", std::process::id()));
    std::fs::create_dir_all(&pin)?;
    std::fs::write(pin.join("sitecustomize.py"), PIN_ADDRESS)?;
    let child = tokio::process::Command::new(tool(name)?)
        .args(args)
        .env("PYTHONPATH", &pin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    // On timeout the future, and with it the child, is dropped: killed.
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => {
            let output = output.with_context(|| format!("running {name}"))?;
            Ok(format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
        Err(_) => Ok(format!("({name} was stopped after {limit:?})")),
    }
}

async fn bans(gateway: &Gateway) -> Result<Vec<BanEntry>> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::get(
        &gateway.url("/api/v1/security/bans"),
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    ensure!(response.status == 200, "bans: {}", response.text());
    response.json()
}

#[tokio::test]
async fn sipvicious_finds_nothing_is_banned_and_a_real_agent_still_calls() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let target = format!("udp://{}", gateway.sip_udp);

    // 1. The extension scan: numbers, and the names that do exist.
    let names = gateway.data_dir().join("extensions.txt");
    let candidates: String = (100..130).map(|n| format!("{n}\n")).collect();
    std::fs::write(&names, format!("{candidates}demo\nadmin\n"))?;
    let args: Vec<String> = vec![
        "-d".to_owned(),
        names.display().to_string(),
        "-b".to_owned(),
        ATTACKER.to_owned(),
        "-t".to_owned(),
        "0.3".to_owned(),
        target.clone(),
    ];
    let war = run("sipvicious_svwar", &args, Duration::from_secs(40)).await?;
    ensure!(
        !war.contains("| reqauth") && !war.contains("| noauth") && !war.contains("| weird"),
        "svwar reported extensions:\n{war}"
    );
    let listed = bans(&gateway).await?;
    let ban = listed
        .iter()
        .find(|b| b.ip == ATTACKER)
        .with_context(|| format!("{ATTACKER} not banned: {listed:?}\nsvwar:\n{war}"))?;
    ensure!(ban.reason == "scanner", "{ban:?}");
    ensure!(ban.detail.contains("friendly-scanner"), "{ban:?}");
    ensure!(
        gateway
            .log()
            .contains(&format!("gateway ban: source={ATTACKER} reason=scanner")),
        "the fail2ban line is in the log"
    );
    let refused_before = ban.refused;

    // 2. Password guessing against the real agent: no answer at all.
    let dictionary = gateway.data_dir().join("passwords.txt");
    let guesses: String = (0..30).map(|i| format!("guess{i}\n")).collect();
    std::fs::write(&dictionary, format!("{guesses}{}\n", gateway.demo_password))?;
    let args: Vec<String> = vec![
        "-u".to_owned(),
        "demo".to_owned(),
        "-d".to_owned(),
        dictionary.display().to_string(),
        "-b".to_owned(),
        ATTACKER.to_owned(),
        "-t".to_owned(),
        "0.3".to_owned(),
        "--maximumtime".to_owned(),
        "5".to_owned(),
        target.clone(),
    ];
    let crack = run("sipvicious_svcrack", &args, Duration::from_secs(40)).await?;
    ensure!(
        !crack.contains(&gateway.demo_password),
        "svcrack found the password:\n{crack}"
    );
    let listed = bans(&gateway).await?;
    let ban = listed
        .iter()
        .find(|b| b.ip == ATTACKER)
        .context("the ban is gone")?;
    ensure!(
        ban.refused > refused_before,
        "svcrack's tries were not refused by the ban: {ban:?}\n{crack}"
    );

    // 3. The real agent, from another address, signs in and calls.
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        calls::dial(&browser, "(415) 555-2671").await?;
        browser
            .wait_for(
                r#"#call-state[data-state="connected"]"#,
                Duration::from_secs(20),
            )
            .await?;
        calls::hang_up(&browser).await?;
        Ok(())
    }
    .await;
    browser.finish(result).await?;

    // 4. Kept across a restart; then lifted by an admin.
    gateway.restart().await?;
    let listed = bans(&gateway).await?;
    ensure!(
        listed
            .iter()
            .any(|b| b.ip == ATTACKER && b.reason == "scanner"),
        "the ban did not survive the restart: {listed:?}"
    );
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::request(
        hyper::Method::DELETE,
        &gateway.url(&format!("/api/v1/security/bans/{ATTACKER}")),
        &[("cookie", admin.cookie.as_str())],
        None,
    )
    .await?;
    ensure!(response.status == 204, "unban: {}", response.text());
    ensure!(bans(&gateway).await?.is_empty());
    gateway.check_alive()
}
