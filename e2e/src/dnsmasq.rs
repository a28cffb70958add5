//! A DNS server of the test's own: Debian's `dnsmasq` on a free loopback
//! port, serving only the records the test gives it (no upstream, no
//! `/etc/hosts`), authoritative for `.test` so any other name under it is
//! NXDOMAIN at once. The gateway is pointed at it with `--dns-server`.
//! Dropping it stops the process and keeps its log among the artifacts.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A running dnsmasq.
pub struct Dnsmasq {
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Dnsmasq {
    /// Starts dnsmasq with `records`, each a dnsmasq option without its
    /// `--`, e.g. `srv-host=_sip._udp.carrier.test,a.carrier.test,5070,10,10`,
    /// `host-record=a.carrier.test,127.0.0.1` or
    /// `naptr-record=carrier.test,10,10,S,SIP+D2U,,_sip._udp.pool.carrier.test`.
    /// Every record has a TTL of `ttl_s` seconds.
    pub async fn start(records: &[String], ttl_s: u32) -> Result<Dnsmasq> {
        let log = tempfile::Builder::new()
            .prefix("e2e-dnsmasq-")
            .suffix(".log")
            .tempfile()
            .context("creating dnsmasq's log file")?;
        for attempt in 1..=3 {
            let port = crate::sipp::free_udp_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            match spawn(addr, records, ttl_s, log.path()).await {
                Ok(child) => return Ok(Dnsmasq { addr, child, log }),
                Err(e) if attempt < 3 && format!("{e:#}").contains("in use") => {}
                Err(e) => return Err(e),
            }
        }
        bail!("dnsmasq could not bind a port in 3 attempts")
    }

    /// Stops it and starts it again on the same port (where the gateway
    /// keeps asking) with new `records`; the log goes on in the same file.
    pub async fn restart(&mut self, records: &[String], ttl_s: u32) -> Result<()> {
        crate::terminate(&mut self.child, Duration::from_secs(2))?;
        self.child = spawn(self.addr, records, ttl_s, self.log.path()).await?;
        Ok(())
    }

    /// Its log so far (every query it answered).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

/// dnsmasq on `addr`, once it accepts TCP there.
async fn spawn(
    addr: SocketAddr,
    records: &[String],
    ttl_s: u32,
    log: &std::path::Path,
) -> Result<Child> {
    let mut command = Command::new(binary());
    command
        .arg("--keep-in-foreground")
        .arg("--conf-file=/dev/null")
        .arg("--no-resolv")
        .arg("--no-hosts")
        .arg("--no-poll")
        .arg("--bind-interfaces")
        .arg(format!("--listen-address={}", addr.ip()))
        .arg(format!("--port={}", addr.port()))
        .arg("--user=root")
        .arg("--pid-file")
        .arg("--log-queries")
        .arg(format!("--log-facility={}", log.display()))
        .arg("--local=/test/")
        .arg(format!("--local-ttl={ttl_s}"));
    for record in records {
        command.arg(format!("--{record}"));
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting dnsmasq (apt-get install dnsmasq-base)")?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait()? {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use std::io::Read;
                let _ = stderr.read_to_string(&mut err);
            }
            bail!("dnsmasq exited at start ({status}): {err}");
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(child);
        }
        if std::time::Instant::now() > deadline {
            let _ = crate::terminate(&mut child, Duration::from_secs(1));
            bail!("dnsmasq did not listen on {addr} within 5 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        if let Err(e) = crate::terminate(&mut self.child, Duration::from_secs(2)) {
            eprintln!("stopping dnsmasq: {e}");
        }
        let dir = crate::artifacts_dir();
        let saved = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::copy(
                self.log.path(),
                dir.join(format!("{}.dnsmasq.log", crate::test_label())),
            )
        });
        if let Err(e) = saved {
            eprintln!("dnsmasq log not saved: {e}");
        }
    }
}

/// `dnsmasq` on PATH, else Debian's `/usr/sbin/dnsmasq` (not on a
/// non-root PATH).
fn binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/dnsmasq").is_file() {
        "/usr/sbin/dnsmasq"
    } else {
        "dnsmasq"
    }
}
