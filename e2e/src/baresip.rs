//! baresip (Debian's `baresip-core`) as a carrier: a real SIP user agent
//! with its own RTP and SRTP stack (libre/librem), independent of ours.
//!
//! [`Baresip::echo_carrier`] listens on a free UDP port of 127.0.0.1 with
//! one account and the `echo` module, which answers every call and sends
//! the caller's audio back (through `aubridge`): a browser that hears its
//! own fake-microphone beep has had its audio cross both directions of the
//! carrier leg, decrypted and re-encrypted by baresip when the leg is SRTP.
//! [`Baresip::caller`] calls one of our DIDs instead (its `menu` module's
//! `/dial`), and loops back what it hears the same way.
//! `net_interface 127.0.0.1` keeps every address it writes in SDP on loopback.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::sipp::{free_udp_port, port_bound, read};

const OUTPUT: &str = "baresip.out";

/// How the carrier treats media encryption (baresip's `mediaenc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEnc {
    /// Plain RTP only.
    None,
    /// SRTP with SDES keys, mandatory (`srtp-mand`: RTP/SAVP, `a=crypto`).
    SrtpMandatory,
}

pub struct Baresip {
    pub sip_addr: SocketAddr,
    child: Option<Child>,
    dir: tempfile::TempDir,
    label: String,
}

impl Baresip {
    /// A carrier that answers calls to `number` (the Request-URI's user
    /// part, as the gateway writes it: E.164 with `+` by default) and
    /// echoes their audio; calls to other numbers get 404.
    pub async fn echo_carrier(enc: MediaEnc, number: &str) -> Result<Baresip> {
        Baresip::start(enc, number, "aubridge,nil", "module_app echo.so\n", &[]).await
    }

    /// A carrier calling `number` at `target` (one of our DIDs) from
    /// `caller`; once answered it sends a 440 Hz tone (`ausine`) and plays
    /// what it hears into a bridge (its status line counts the bit rates).
    pub async fn caller(
        enc: MediaEnc,
        caller: &str,
        target: SocketAddr,
        number: &str,
    ) -> Result<Baresip> {
        let dial = format!("/dial sip:{number}@{target}");
        // ausine makes 48 kHz stereo only; baresip resamples for G.711.
        let modules = "ausrc_srate 48000\nausrc_channels 2\nmodule ausine.so\nmodule menu.so\n";
        Baresip::start(enc, caller, "ausine,440", modules, &["-e", &dial]).await
    }

    async fn start(
        enc: MediaEnc,
        user: &str,
        source: &str,
        modules: &str,
        args: &[&str],
    ) -> Result<Baresip> {
        // Ports are found free, then handed to baresip, which also binds
        // TCP and TLS next to its UDP port: another process may take one in
        // between, so a failed bind is retried on new ports.
        let attempts = 3;
        for attempt in 1..=attempts {
            let dir = tempfile::Builder::new()
                .prefix("e2e-baresip-")
                .tempdir()
                .context("creating a temporary directory for baresip")?;
            let port = free_udp_port()?;
            let rtp = free_udp_port()?;
            let (lo, hi) = (rtp & !1, (rtp & !1).saturating_add(40));
            let config = format!(
                "poll_method epoll\n\
                 sip_listen 127.0.0.1:{port}\n\
                 net_interface 127.0.0.1\n\
                 audio_player aubridge,nil\n\
                 audio_source {source}\n\
                 audio_alert aubridge,nil\n\
                 rtp_ports {lo}-{hi}\n\
                 module_path /usr/lib/baresip/modules\n\
                 module g711.so\n\
                 module aubridge.so\n\
                 module srtp.so\n\
                 module_app account.so\n\
                 {modules}"
            );
            std::fs::write(dir.path().join("config"), config).context("writing baresip config")?;
            let mediaenc = match enc {
                MediaEnc::None => "",
                MediaEnc::SrtpMandatory => ";mediaenc=srtp-mand",
            };
            std::fs::write(
                dir.path().join("accounts"),
                format!(
                    "<sip:{user}@127.0.0.1:{port}>;regint=0{mediaenc};audio_codecs=PCMU,PCMA\n"
                ),
            )
            .context("writing baresip accounts")?;
            let output = File::create(dir.path().join(OUTPUT)).context("creating baresip.out")?;
            let child = Command::new("baresip")
                .arg("-f")
                .arg(dir.path())
                .args(["-v", "-s"])
                .args(args)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::from(output.try_clone()?))
                .stderr(Stdio::from(output))
                .spawn()
                .context("starting baresip (Debian package baresip-core)")?;
            let mut baresip = Baresip {
                sip_addr: SocketAddr::from(([127, 0, 0, 1], port)),
                child: Some(child),
                dir,
                label: format!("{}.baresip", crate::test_label()),
            };
            match baresip.wait_ready(Duration::from_secs(10)).await {
                Ok(()) => return Ok(baresip),
                // Dropping this one keeps its output among the artifacts.
                Err(_)
                    if attempt < attempts
                        && baresip.output().contains("Address already in use") => {}
                Err(e) => return Err(e),
            }
        }
        bail!("baresip could not bind its ports in {attempts} attempts")
    }

    /// The highest received audio bit rate its status line showed
    /// (`audio=<tx>/<rx> (bit/s)`): above 0 once it decoded what we sent.
    pub fn received_bitrate(&self) -> u64 {
        self.output()
            .split("audio=")
            .skip(1)
            .filter_map(|s| s.split_once('/')?.1.split(' ').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    }

    /// Everything it printed (SIP trace included).
    pub fn output(&self) -> String {
        read(&self.dir.path().join(OUTPUT))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "baresip exited at once ({status}):\n{}",
                    crate::tail(&self.output(), 20)
                );
            }
            if self.output().contains("baresip is ready") && port_bound(self.sip_addr, false)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "baresip was not ready within {timeout:?}:\n{}",
                    crate::tail(&self.output(), 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, up to 2 s, then SIGKILL.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Err(e) = crate::terminate(&mut child, Duration::from_secs(2)) {
            eprintln!("stopping baresip: {e}");
        }
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        self.stop();
        let dir = crate::artifacts_dir().join(&self.label);
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::copy(self.dir.path().join(OUTPUT), dir.join(OUTPUT)));
        if std::thread::panicking() {
            eprintln!(
                "--- baresip ({}) ---\n{}\n---",
                match saved {
                    Ok(_) => format!("output saved to {}", dir.display()),
                    Err(e) => format!("output not saved: {e}"),
                },
                crate::tail(&self.output(), 80)
            );
        }
    }
}
