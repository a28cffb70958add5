//! The anchor target: Kamailio (websocket) + rtpengine in userspace
//! (`--table=-1`), the WebRTC ⇄ SIP/RTP gateway a call center would run
//! instead of ours, started from `bench/anchor/kamailio.cfg` on loopback.
//! Both are Debian packages (`kamailio`, `kamailio-websocket-modules`,
//! `rtpengine-daemon`); `scripts/bench-side-by-side.sh` installs them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Running;

/// The anchor's processes; stopped (SIGTERM, then SIGKILL) when dropped.
struct Processes {
    kamailio: Child,
    rtpengine: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Processes {
    fn drop(&mut self) {
        if std::env::var_os("LOADGEN_ANCHOR_DEBUG").is_some() {
            let log = self._dir.path().join("kamailio.log");
            let _ = std::fs::copy(&log, std::env::temp_dir().join("loadgen-kamailio.log"));
        }
        for child in [&mut self.kamailio, &mut self.rtpengine] {
            if let Ok(pid) = i32::try_from(child.id())
                && let Some(pid) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn program(name: &str) -> Result<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = PathBuf::from(dir).join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!(
        "{name} is not installed: scripts/bench-side-by-side.sh installs kamailio, \
         kamailio-websocket-modules and rtpengine-daemon"
    )
}

/// Processes whose parent is `parent` (Kamailio's workers).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let (_, rest) = s.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Starts rtpengine and Kamailio with `workers` each, the carrier at
/// `carrier`, and `users` phone users (no authentication: the anchor's
/// config registers anyone, so the harness gives it no credentials).
pub async fn start(carrier: SocketAddr, users: usize, workers: usize) -> Result<Running> {
    let dir = tempfile::Builder::new()
        .prefix("load-anchor-")
        .tempdir()
        .context("a directory for the anchor")?;
    let ip = "127.0.0.1";
    let ws_port = crate::free_tcp_port()?;
    let sip_port = crate::free_tcp_port()?;
    let ng_port = crate::free_tcp_port()?;
    let template =
        std::fs::read_to_string(crate::workspace_root().join("bench/anchor/kamailio.cfg"))
            .context("reading bench/anchor/kamailio.cfg")?;
    let config = template
        .replace("@IP@", ip)
        .replace("@WS_PORT@", &ws_port.to_string())
        .replace("@SIP_PORT@", &sip_port.to_string())
        .replace("@NG_PORT@", &ng_port.to_string())
        .replace("@CARRIER@", &carrier.to_string())
        .replace("@CHILDREN@", &workers.to_string());
    // LOADGEN_ANCHOR_DEBUG=3 (Kamailio's log level) shows each message's routing.
    let config = match std::env::var("LOADGEN_ANCHOR_DEBUG") {
        Ok(level) if level.parse::<u8>().is_ok_and(|l| l <= 3) => {
            config.replacen("debug=1", &format!("debug={level}"), 1)
        }
        _ => config,
    };
    let config_path = dir.path().join("kamailio.cfg");
    std::fs::write(&config_path, config)?;
    let log =
        |name: &str| -> Result<Stdio> { Ok(std::fs::File::create(dir.path().join(name))?.into()) };

    let rtpengine = Command::new(program("rtpengine")?)
        .arg("--config-file=none")
        .arg(format!("--interface={ip}"))
        .arg(format!("--listen-ng=127.0.0.1:{ng_port}"))
        .args(["--port-min=40000", "--port-max=49999", "--table=-1"])
        .args([
            "--foreground",
            "--log-stderr",
            "--no-fallback",
            "--log-level=4",
        ])
        .arg(format!("--num-threads={workers}"))
        .stdin(Stdio::null())
        .stdout(log("rtpengine.out")?)
        .stderr(log("rtpengine.log")?)
        .spawn()
        .context("starting rtpengine")?;
    let kamailio = Command::new(program("kamailio")?)
        .arg("-f")
        .arg(&config_path)
        .arg("-P")
        .arg(dir.path().join("kamailio.pid"))
        .arg("-w")
        .arg(dir.path())
        .args(["-DD", "-E"])
        .stdin(Stdio::null())
        .stdout(log("kamailio.out")?)
        .stderr(log("kamailio.log")?)
        .spawn()
        .context("starting kamailio")?;
    let mut processes = Processes {
        kamailio,
        rtpengine,
        _dir: dir,
    };
    if let Err(e) = crate::wait_listening("kamailio's WebSocket", ws_port).await {
        let log =
            std::fs::read_to_string(processes._dir.path().join("kamailio.log")).unwrap_or_default();
        let status = processes.kamailio.try_wait().ok().flatten();
        bail!(
            "{e:#} (kamailio {status:?}); its log:\n{}",
            crate::tail(&log, 30)
        );
    }
    if let Ok(Some(status)) = processes.rtpengine.try_wait() {
        let log = std::fs::read_to_string(processes._dir.path().join("rtpengine.log"))
            .unwrap_or_default();
        bail!(
            "rtpengine exited ({status}); its log:\n{}",
            crate::tail(&log, 30)
        );
    }
    let (master, media) = (processes.kamailio.id(), processes.rtpengine.id());
    Ok(Running {
        name: "anchor",
        ws_url: format!("ws://{ip}:{ws_port}/"),
        domain: ip.to_owned(),
        agents: (0..users).map(|i| (format!("load{i}"), None)).collect(),
        pids: Box::new(move || {
            let mut pids = vec![master, media];
            pids.extend(children_of(master));
            pids
        }),
        _keep: Box::new(processes),
    })
}
