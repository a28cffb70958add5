//! The real gateway binary as a child process.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use shared::api::{Health, SessionInfo};
use tempfile::TempDir;

use crate::http::{self, HttpResponse};

/// Password the harness gives the `admin` account on first start.
pub const ADMIN_PASSWORD: &str = "e2e-admin-Secret-8213";
/// Password the harness gives the `demo` agent on first start.
pub const DEMO_PASSWORD: &str = "e2e-demo-Secret-4711";

/// How to start a [`Gateway`]; `Default` is what most tests want.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Extra command-line flags, after the harness's own.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The built web client; default `<workspace>/dist` or `$E2E_STATIC_DIR`.
    pub static_dir: Option<PathBuf>,
    /// How long to wait for the ready line.
    pub ready_timeout: Duration,
    /// Give `admin` and `demo` the known passwords [`ADMIN_PASSWORD`] and
    /// [`DEMO_PASSWORD`] through the environment; when false the gateway
    /// makes up its own and writes them to `initial-credentials.txt`.
    pub known_passwords: bool,
    /// SIP (UDP and TCP) on all interfaces (`0.0.0.0`) and no
    /// `--advertised-address`: the gateway picks its address from the
    /// interfaces. HTTP stays on 127.0.0.1.
    pub all_interfaces: bool,
    /// Serve HTTPS and WSS with this certificate (`--tls-cert`/`--tls-key`);
    /// [`Gateway::url`] is then `https://…` and the harness's HTTP client
    /// trusts the CA.
    pub tls: Option<crate::pki::TestPki>,
    /// With `tls`: SIP over TLS from carriers on a port of its own
    /// (`--sip-tls`, [`Gateway::sip_tls`]).
    pub sip_tls: bool,
    /// Log warnings only and no SIP messages (`--log-level warn`, no
    /// `--log-sip`): for load runs, where the log would cost what they
    /// measure.
    pub quiet: bool,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            args: Vec::new(),
            env: Vec::new(),
            static_dir: None,
            ready_timeout: Duration::from_secs(60),
            known_passwords: true,
            all_interfaces: false,
            tls: None,
            sip_tls: false,
            quiet: false,
        }
    }
}

/// A running gateway on loopback. Dropping it stops the process (SIGTERM,
/// then SIGKILL after 5 s) and removes its data directory; if the test is
/// panicking, the gateway's log is copied to the artifacts directory and its
/// tail printed.
pub struct Gateway {
    child: Option<Child>,
    pub http: SocketAddr,
    pub sip_udp: SocketAddr,
    pub sip_tcp: SocketAddr,
    /// With [`GatewayOptions::sip_tls`]: where carriers reach us over TLS.
    pub sip_tls: Option<SocketAddr>,
    /// With `--sip-udp6` / `--sip-tcp6`: the gateway's IPv6 SIP sockets.
    pub sip_udp6: Option<SocketAddr>,
    pub sip_tcp6: Option<SocketAddr>,
    pub admin_password: String,
    pub demo_password: String,
    binary: PathBuf,
    options: GatewayOptions,
    static_dir: PathBuf,
    log_path: PathBuf,
    label: String,
    // Last, so that it is removed after the process is gone.
    data_dir: TempDir,
}

/// A signed-in web session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub info: SessionInfo,
    /// `name=value` of the session cookie, for a `Cookie` header.
    pub cookie: String,
}

impl Gateway {
    pub async fn start() -> Result<Gateway> {
        Gateway::start_with(GatewayOptions::default()).await
    }

    pub async fn start_with(options: GatewayOptions) -> Result<Gateway> {
        let binary = binary()?;
        let static_dir = options
            .static_dir
            .clone()
            .or_else(|| std::env::var_os("E2E_STATIC_DIR").map(PathBuf::from))
            .unwrap_or_else(|| crate::workspace_root().join("dist"));
        let data_dir = tempfile::Builder::new()
            .prefix("e2e-gateway-")
            .tempdir()
            .context("creating a temporary data directory")?;
        let mut gateway = Gateway {
            child: None,
            http: unspecified(),
            sip_udp: unspecified(),
            sip_tcp: unspecified(),
            sip_tls: None,
            sip_udp6: None,
            sip_tcp6: None,
            admin_password: ADMIN_PASSWORD.to_owned(),
            demo_password: DEMO_PASSWORD.to_owned(),
            binary,
            options,
            static_dir,
            log_path: data_dir.path().join("gateway.log"),
            label: crate::test_label(),
            data_dir,
        };
        gateway.launch().await?;
        Ok(gateway)
    }

    /// Stops the gateway and starts it again on the same data directory
    /// (the ports change: port 0 again).
    pub async fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            let status = self.stop()?;
            if !status.success() {
                bail!("the gateway did not stop cleanly: {status}");
            }
        }
        self.launch().await
    }

    async fn launch(&mut self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("opening {}", self.log_path.display()))?;

        let mut command = Command::new(&self.binary);
        // The gateway reads GATEWAY_* from the environment: none of the
        // caller's may leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GATEWAY_") {
                command.env_remove(&key);
            }
        }
        if self.options.known_passwords {
            command
                .env("GATEWAY_ADMIN_PASSWORD", ADMIN_PASSWORD)
                .env("GATEWAY_DEMO_PASSWORD", DEMO_PASSWORD);
        }
        command
            .env_remove("RUST_LOG")
            // A test's calls drain briefly when its gateway stops (a test
            // that sets --shutdown-grace overrides this).
            .env("GATEWAY_SHUTDOWN_GRACE", "2")
            .args(["--http-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .arg("--static-dir")
            .arg(&self.static_dir)
            .args([
                "--log-level",
                &std::env::var("E2E_GATEWAY_LOG").unwrap_or_else(|_| {
                    if self.options.quiet { "warn" } else { "info" }.to_owned()
                }),
            ]);
        if !self.options.quiet {
            command.arg("--log-sip");
        }
        if let Some(pki) = &self.options.tls {
            command
                .arg("--tls-cert")
                .arg(&pki.cert_file)
                .arg("--tls-key")
                .arg(&pki.key_file);
            if self.options.sip_tls {
                command.args(["--sip-tls", "127.0.0.1:0"]);
            }
        }
        command
            .args(&self.options.args)
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                log.try_clone().context("duplicating the log file handle")?,
            ));
        if self.options.all_interfaces {
            command
                .args(["--sip-udp", "0.0.0.0:0"])
                .args(["--sip-tcp", "0.0.0.0:0"]);
        } else {
            command
                .args(["--sip-udp", "127.0.0.1:0"])
                .args(["--sip-tcp", "127.0.0.1:0"])
                .args(["--advertised-address", "127.0.0.1"]);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;

        // A thread reads stdout: the ready line goes to the test, everything
        // (ready line included) to the log. It ends when the process does.
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("the gateway's stdout was not piped"))?;
        self.child = Some(child);
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<String>();
        std::thread::Builder::new()
            .name(format!("{}-gateway-stdout", self.label))
            .spawn(move || forward_stdout(stdout, log, ready_tx))
            .context("spawning the stdout reader")?;

        let line = match tokio::time::timeout(self.options.ready_timeout, ready_rx).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                let status = self.wait_exit(Duration::from_secs(5));
                bail!(
                    "the gateway exited before it was ready ({}); its log:\n{}",
                    status.map_or_else(|| "still running".to_owned(), |s| s.to_string()),
                    crate::tail(&self.log(), 60)
                );
            }
            Err(_) => bail!(
                "the gateway printed no ready line within {:?}; its log:\n{}",
                self.options.ready_timeout,
                crate::tail(&self.log(), 60)
            ),
        };
        let (http, sip_udp, sip_tcp) = parse_ready_line(&line)?;
        self.http = http;
        self.sip_udp = sip_udp;
        self.sip_tcp = sip_tcp;
        self.sip_tls = ready_field(&line, "sip_tls")?;
        if let Some(pki) = &self.options.tls {
            crate::http::trust(&self.http.to_string(), pki.ca_der.clone());
        }
        self.sip_udp6 = ready_field(&line, "sip_udp6")?;
        self.sip_tcp6 = ready_field(&line, "sip_tcp6")?;
        Ok(())
    }

    /// The gateway process's ID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `http://127.0.0.1:PORT{path}` (`https://` with [`GatewayOptions::tls`]).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.http)
    }

    /// The SIP WebSocket endpoint, `ws://127.0.0.1:PORT/ws` (`wss://` with
    /// [`GatewayOptions::tls`]).
    pub fn ws_url(&self) -> String {
        let scheme = if self.https() { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.http)
    }

    /// Whether it serves HTTPS ([`GatewayOptions::tls`]).
    pub fn https(&self) -> bool {
        self.options.tls.is_some()
    }

    /// Fails with a helpful message unless the built web client is there.
    pub fn require_client(&self) -> Result<()> {
        let index = self.static_dir.join("index.html");
        if !index.is_file() {
            bail!(
                "{} is missing: build the client first with `trunk build --release --offline` \
                 (scripts/test.sh does), or set E2E_STATIC_DIR",
                index.display()
            );
        }
        Ok(())
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// Everything the gateway wrote so far (stderr and stdout).
    pub fn log(&self) -> String {
        match std::fs::read(&self.log_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => format!("(could not read {}: {e})", self.log_path.display()),
        }
    }

    /// Fails if the process has exited or its log shows a panic.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait().context("checking the gateway process")?
        {
            bail!(
                "the gateway exited ({status}); its log:\n{}",
                crate::tail(&self.log(), 60)
            );
        }
        let log = self.log();
        if let Some(at) = log.find("panicked at") {
            let start = log[..at].rfind('\n').map_or(0, |i| i + 1);
            bail!("the gateway panicked:\n{}", crate::tail(&log[start..], 40));
        }
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<HttpResponse> {
        http::get(&self.url(path), &[]).await
    }

    /// `GET /healthz`, which must answer 200 `{"status":"ok",…}`.
    pub async fn health(&self) -> Result<Health> {
        let response = self.get("/healthz").await?;
        if response.status != 200 {
            bail!(
                "GET /healthz answered {}: {}",
                response.status,
                response.text()
            );
        }
        let health: Health = response.json()?;
        if health.status != "ok" {
            bail!("GET /healthz says {health:?}");
        }
        Ok(health)
    }

    /// `POST /api/v1/session`, as the sign-in page does; the raw answer.
    pub async fn post_session(&self, username: &str, password: &str) -> Result<HttpResponse> {
        let body = serde_json::to_vec(&shared::api::SignInRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        })?;
        http::post_json(&self.url("/api/v1/session"), body, &[]).await
    }

    /// Signs in and returns the session, failing unless the gateway says 200.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<SignedIn> {
        let response = self.post_session(username, password).await?;
        if response.status != 200 {
            bail!(
                "signing in as {username} answered {}: {}",
                response.status,
                response.text()
            );
        }
        let info: SessionInfo = response.json()?;
        let cookie = response
            .set_cookies()
            .into_iter()
            .next()
            .ok_or_else(|| anyhow!("signing in set no cookie"))?;
        Ok(SignedIn { info, cookie })
    }

    /// Stops the gateway: SIGTERM, up to 5 s for a clean exit, then SIGKILL.
    /// Returns its exit status.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("the gateway was already stopped");
        };
        crate::terminate(&mut child, Duration::from_secs(5)).context("stopping the gateway")
    }

    /// SIGKILL: the gateway dies at once, as in a crash or power loss.
    pub fn kill_now(&mut self) -> Result<ExitStatus> {
        let mut child = self
            .child
            .take()
            .context("the gateway was already stopped")?;
        child.kill().context("killing the gateway")?;
        child.wait().context("waiting for the killed gateway")
    }

    /// Sends SIGTERM and returns at once: the gateway drains its calls
    /// while the test goes on; [`Gateway::wait_stopped`] waits for the exit.
    pub fn begin_stop(&self) -> Result<()> {
        let child = self
            .child
            .as_ref()
            .context("the gateway was already stopped")?;
        let pid = rustix::process::Pid::from_child(child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .context("sending SIGTERM to the gateway")
    }

    /// Waits up to `timeout` for the gateway to exit; its status, or `None`
    /// if it is still running.
    pub fn wait_stopped(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = self.wait_exit(timeout);
        if status.is_some() {
            self.child = None;
        }
        status
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => return None,
            }
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let stopped = if self.child.is_some() {
            self.stop().map(Some)
        } else {
            Ok(None)
        };
        // Every test's gateway log is kept (it is small), so that a test
        // that returned an error can be looked into too.
        let dir = crate::artifacts_dir();
        let saved = dir.join(format!("{}.gateway.log", self.label));
        let copied = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::copy(&self.log_path, &saved)?;
            Ok(())
        });
        if std::thread::panicking() {
            eprintln!(
                "--- gateway log ({}), last lines ---\n{}\n--- end of gateway log ---",
                match copied {
                    Ok(()) => format!("saved to {}", saved.display()),
                    Err(e) => format!("not saved: {e}"),
                },
                crate::tail(&self.log(), 80)
            );
        }
        if let Err(e) = stopped {
            eprintln!("stopping the gateway: {e:#}");
        }
    }
}

/// The gateway binary: `$GATEWAY_BIN`, else `gateway` next to this test's
/// profile directory (`target/debug/gateway`).
pub fn binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("GATEWAY_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("GATEWAY_BIN={} is not a file", path.display());
        }
        return Ok(path);
    }
    let candidates = [
        crate::profile_dir().join("gateway"),
        crate::workspace_root().join("target/debug/gateway"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "no gateway binary at {}: run `cargo build -p gateway` first (scripts/test.sh \
                 does), or set GATEWAY_BIN",
                candidates[0].display()
            )
        })
}

fn forward_stdout(
    stdout: std::process::ChildStdout,
    mut log: File,
    ready_tx: tokio::sync::oneshot::Sender<String>,
) {
    let mut ready_tx = Some(ready_tx);
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(log, "{line}");
        if line.starts_with("gateway ready ")
            && let Some(tx) = ready_tx.take()
        {
            let _ = tx.send(line);
        }
    }
}

/// `gateway ready http=127.0.0.1:PORT sip_udp=127.0.0.1:PORT sip_tcp=127.0.0.1:PORT`
pub fn parse_ready_line(line: &str) -> Result<(SocketAddr, SocketAddr, SocketAddr)> {
    let field = |name: &str| {
        ready_field(line, name)?.ok_or_else(|| anyhow!("ready line without {name}=: {line:?}"))
    };
    Ok((field("http")?, field("sip_udp")?, field("sip_tcp")?))
}

/// One `name=ADDRESS` of the ready line, if there (`sip_udp6=[::1]:PORT`
/// only on a dual-stack gateway); only loopback addresses (or all
/// interfaces) are accepted.
fn ready_field(line: &str, name: &str) -> Result<Option<SocketAddr>> {
    let prefix = format!("{name}=");
    let Some(value) = line
        .split_whitespace()
        .find_map(|word| word.strip_prefix(&prefix))
    else {
        return Ok(None);
    };
    let addr: SocketAddr = value
        .parse()
        .with_context(|| format!("{name}={value} in the ready line is not an address"))?;
    // 0.0.0.0: all interfaces of the test's own namespace
    // (`GatewayOptions::all_interfaces`).
    if !addr.ip().is_loopback() && !addr.ip().is_unspecified() {
        bail!("{name}={addr} is not a loopback address; the tests only use loopback");
    }
    Ok(Some(addr))
}

fn unspecified() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line() {
        let (h, u, t) = parse_ready_line(
            "gateway ready http=127.0.0.1:41000 sip_udp=127.0.0.1:41001 sip_tcp=127.0.0.1:41002",
        )
        .expect("a well-formed line parses");
        assert_eq!(
            (h.port(), u.port(), t.port()),
            (41000, 41001, 41002),
            "ports in order"
        );
        assert!(parse_ready_line("gateway ready http=127.0.0.1:1").is_err());
        let dual = "gateway ready http=127.0.0.1:1 sip_udp=127.0.0.1:2 sip_tcp=127.0.0.1:3 \
                    sip_udp6=[::1]:4";
        assert_eq!(
            ready_field(dual, "sip_udp6").expect("parses"),
            Some("[::1]:4".parse().expect("addr"))
        );
        assert_eq!(
            ready_field(dual.split(" sip_udp6").next().unwrap_or(""), "sip_udp6").ok(),
            Some(None)
        );
        assert!(
            parse_ready_line(
                "gateway ready http=10.0.0.1:1 sip_udp=127.0.0.1:2 sip_tcp=127.0.0.1:3"
            )
            .is_err()
        );
    }
}
