//! Harness for end-to-end tests: the real `gateway` binary, headless
//! Chromium through chromedriver, JsSIP in Node, raw SIP over UDP, TCP and
//! WebSocket. The tests live in `tests/`, one file per behaviour.
//!
//! - [`Gateway`] starts `target/debug/gateway` (or `$GATEWAY_BIN`) on
//!   `127.0.0.1`, port 0 everywhere, in a fresh data directory with known
//!   passwords, waits for its ready line and stops it (by PID) on drop.
//! - [`Browser`] starts `chromedriver` and a headless Chromium with a fresh
//!   profile; [`Browser::finish`] saves a screenshot and the page source to
//!   `target/e2e-artifacts/` when the test failed.
//! - [`sip`] builds and reads SIP messages and talks to the gateway over
//!   UDP, TCP and WebSocket.
//! - [`http`] is a small HTTP/1.1 client for the REST API (HTTPS too, for
//!   a gateway started with a [`pki::TestPki`] certificate).
//! - [`calls`]: steps of the call tests (sign in, dial, WebRTC stats, call
//!   records).
//! - [`incoming`]: steps of the inbound-call tests on the phone page
//!   (ringing panel, answer, decline).
//! - [`dnsmasq`]: a DNS server of the test's own (SRV, NAPTR, A records
//!   for carrier host names; the gateway's `--dns-server`).
//! - [`jssip`]: JsSIP inside Chromium, a third-party phone that can take
//!   calls (Node has no `RTCPeerConnection`).
//!
//! Everything stays on loopback: no test sends a packet anywhere else.
//!
//! Prerequisites (`scripts/test.sh` provides them): `cargo build -p gateway`,
//! `trunk build --release --offline` (the client in `dist/`), Debian's
//! `chromium` and `chromium-driver`, and `npm ci` in `e2e/node`.

pub mod admin;
pub mod baresip;
pub mod browser;
pub mod calls;
pub mod dnsmasq;
pub mod embed;
pub mod gateway;
pub mod http;
pub mod incoming;
pub mod jssip;
pub mod load;
pub mod pki;
pub mod sip;
pub mod sipp;
pub mod socat;
pub mod turn;
pub mod ws_phone;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use browser::Browser;
pub use gateway::{Gateway, GatewayOptions};

/// Stops a child process we started: SIGTERM (so it can end cleanly), up
/// to `grace` for it to exit, then SIGKILL. Its exit status.
pub(crate) fn terminate(
    child: &mut std::process::Child,
    grace: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    if child.try_wait()?.is_none() {
        let pid = rustix::process::Pid::from_child(child);
        // It may have exited in between; waiting tells.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + grace;
        while child.try_wait()?.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if child.try_wait()?.is_none() {
        child.kill()?;
    }
    child.wait()
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), |p| p.to_path_buf())
}

/// The cargo profile directory this test binary was built into
/// (`<target>/debug`), found from the running executable
/// (`<target>/debug/deps/<test>-<hash>`), so that a test finds the gateway
/// built by the same `cargo` invocation whatever `CARGO_TARGET_DIR` says.
pub fn profile_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| workspace_root().join("target/debug"))
}

/// Where failing tests leave screenshots, page sources and logs:
/// `$E2E_ARTIFACTS_DIR`, else `<target>/e2e-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("E2E_ARTIFACTS_DIR") {
        return PathBuf::from(dir);
    }
    let profile = profile_dir();
    profile
        .parent()
        .map_or_else(|| workspace_root().join("target"), |p| p.to_path_buf())
        .join("e2e-artifacts")
}

/// A name for files about the running test: the test binary's name and the
/// test's (libtest names each thread after its test), e.g.
/// `broken_input.rfc4475_corpus_over_udp`.
pub fn test_label() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let stem = exe.file_stem()?.to_string_lossy().into_owned();
            // Cargo names test executables `<target>-<hash>`.
            Some(
                stem.rsplit_once('-')
                    .map_or(stem.clone(), |(name, _)| name.to_owned()),
            )
        })
        .unwrap_or_else(|| "e2e".to_owned());
    let test = match std::thread::current().name() {
        Some(name) if name != "main" => name.to_owned(),
        _ => "unnamed".to_owned(),
    };
    format!("{binary}.{test}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for programs, such
/// as chromedriver, that cannot listen on port 0 and report the port).
pub fn free_tcp_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("binding 127.0.0.1:0 to find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits up to 10 s until something accepts TCP connections on
/// 127.0.0.1:`port` (a helper process the test started).
pub async fn wait_listening(what: &str, port: u16) -> Result<()> {
    eventually(
        &format!("{what} listening on 127.0.0.1:{port}"),
        Duration::from_secs(10),
        || async {
            Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
                .map(|_| ()))
        },
    )
    .await
}

/// Polls `probe` every 100 ms until it yields `Some`, for at most `timeout`.
/// An `Err` from the probe does not stop the wait, but the last one is
/// reported if the time runs out.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match probe().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = Some(e),
        }
        if Instant::now() >= deadline {
            match last_error {
                Some(e) => {
                    bail!("timed out after {timeout:?} waiting for {what}; last error: {e:#}")
                }
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A checker's verdict (`systemd-analyze verify`, `promtool check`): it
/// must exit 0 and print nothing, or the error carries what it said.
pub fn ensure_silent_success(what: &str, output: &std::process::Output) -> Result<()> {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() || !said.trim().is_empty() {
        bail!("{what}: {}\n{said}", output.status);
    }
    Ok(())
}

/// The last `lines` lines of `text`, for error messages.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
