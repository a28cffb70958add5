//! coturn (Debian's `coturn`, `turnserver`) as the TURN server browsers
//! relay through: on a free UDP port of 127.0.0.1, TURN REST credentials
//! (`use-auth-secret` with a secret the test shares with the gateway),
//! relays on 127.0.0.1 and loopback peers allowed (the gateway is one).
//! Its log is kept among the artifacts; [`Coturn::log`] lets a test see
//! that an allocation was made.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sipp::{free_udp_port, port_bound};

/// The secret coturn and the gateway share in tests.
pub const SECRET: &str = "e2e-turn-shared-secret-0123456789";

pub struct Coturn {
    pub addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
    label: String,
}

impl Coturn {
    pub async fn start() -> Result<Coturn> {
        let attempts = 3;
        for attempt in 1..=attempts {
            let dir = tempfile::Builder::new()
                .prefix("e2e-coturn-")
                .tempdir()
                .context("creating a temporary directory for coturn")?;
            let port = free_udp_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let log = dir.path().join("turnserver.log");
            let child = Command::new("turnserver")
                .args(["-n", "--no-cli", "--no-tls", "--no-dtls", "--simple-log"])
                .args(["--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1"])
                .args(["--listening-port", &port.to_string()])
                .args(["--min-port", "40000", "--max-port", "40999"])
                .args(["--use-auth-secret", "--static-auth-secret", SECRET])
                .args(["--realm", "e2e.invalid", "--allow-loopback-peers"])
                .args(["--no-stdout-log", "--log-file"])
                .arg(&log)
                .arg("--verbose")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting turnserver (Debian package coturn)")?;
            let mut coturn = Coturn {
                addr,
                child: Some(child),
                dir,
                label: format!("coturn-{port}"),
            };
            match coturn.wait_ready(Duration::from_secs(10)).await {
                Ok(()) => return Ok(coturn),
                Err(e) if attempt < attempts => eprintln!("coturn on {addr}: {e:#}; retrying"),
                Err(e) => return Err(e),
            }
        }
        bail!("coturn did not start")
    }

    /// `turn:127.0.0.1:PORT?transport=udp`.
    pub fn url(&self) -> String {
        format!("turn:{}?transport=udp", self.addr)
    }

    /// What coturn has logged so far (its log file has a date in its name).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "turnserver exited at once ({status}):\n{}",
                    crate::tail(&self.log(), 20)
                );
            }
            if port_bound(self.addr, false)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "turnserver was not listening within {timeout:?}:\n{}",
                    crate::tail(&self.log(), 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take()
            && let Err(e) = crate::terminate(&mut child, Duration::from_secs(2))
        {
            eprintln!("stopping turnserver: {e}");
        }
        let dir = crate::artifacts_dir().join(&self.label);
        let _ = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("turnserver.log"), self.log()));
    }
}
