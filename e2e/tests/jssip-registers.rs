//! JsSIP, a third-party SIP-over-WebSocket client running in Node, registers
//! with the credential the gateway issues at sign-in, unregisters, and is
//! refused with a wrong password.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use e2e::Gateway;
use serde_json::Value;

fn node_dir() -> PathBuf {
    e2e::workspace_root().join("e2e/node")
}

#[tokio::test]
async fn jssip_registers_with_the_issued_credential_and_not_with_a_wrong_one() -> Result<()> {
    let dir = node_dir();
    ensure!(
        dir.join("node_modules/jssip").is_dir() && dir.join("node_modules/ws").is_dir(),
        "JsSIP is not installed: run `npm ci` in {} (scripts/test.sh does)",
        dir.display()
    );
    let mut gateway = Gateway::start().await?;
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_owned());
    let run = tokio::process::Command::new(&node)
        .arg("register.mjs")
        .args(["--base", &gateway.url("")])
        .args(["--username", "demo"])
        .args(["--password", &gateway.demo_password])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        // On a timeout the future is dropped and node is killed (by PID).
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .map_err(|_| anyhow!("register.mjs did not finish within 90 s"))?
        .with_context(|| format!("running {node} register.mjs"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "register.mjs failed ({}):\n{stderr}\n{stdout}",
            output.status
        );
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| anyhow!("register.mjs printed no JSON:\n{stdout}\n{stderr}"))?;
    let report: Value =
        serde_json::from_str(line).with_context(|| format!("register.mjs printed {line}"))?;
    let pretty = serde_json::to_string_pretty(&report)?;

    ensure!(
        report["signin_status"] == 200,
        "signing in over HTTP failed: {pretty}"
    );
    let right = &report["right"];
    ensure!(
        right["outcome"] == "registered" && right["registered_status"] == 200,
        "JsSIP did not register with the issued credential: {pretty}"
    );
    ensure!(
        right["unregistered_status"] == 200,
        "JsSIP's un-REGISTER was not answered 200: {pretty}"
    );
    let wrong = &report["wrong"];
    ensure!(
        wrong["outcome"] == "failed"
            && (wrong["failed_status"] == 401 || wrong["failed_status"] == 403),
        "JsSIP with a wrong password was not refused with 401/403: {pretty}"
    );
    gateway.check_alive()
}
