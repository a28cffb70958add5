//! socat in front of a peer that has no TLS of its own (Debian's SIPp is
//! built without it): a TLS terminator before a plain listener, or a plain
//! listener whose connection goes on over TLS.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// A running socat; dropping it stops it.
pub struct Socat {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
}

impl Socat {
    /// Runs `socat LISTEN TO` in `dir`, where `listen` is given a free
    /// port on 127.0.0.1 (e.g. `|p| format!("TCP-LISTEN:{p},bind=127.0.0.1")`),
    /// and waits until it listens there.
    pub async fn start(dir: &Path, listen: impl FnOnce(u16) -> String, to: &str) -> Result<Socat> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("socat")
            .current_dir(dir)
            .arg(listen(port))
            .arg(to)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting socat (Debian's socat package)")?;
        let socat = Socat { child, port };
        crate::eventually("socat listening", Duration::from_secs(5), || async {
            let table = std::fs::read_to_string("/proc/net/tcp")?;
            let wanted = format!("0100007F:{port:04X}");
            Ok(table
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(wanted.as_str()))
                .then_some(()))
        })
        .await?;
        Ok(socat)
    }
}

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
