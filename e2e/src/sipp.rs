//! SIPp (Debian's `sip-tester`) as a carrier, or a caller, on 127.0.0.1.
//!
//! [`Sipp::start`] runs `sipp -sf e2e/sipp/<scenario> -i 127.0.0.1 -p PORT
//! -m 1 …` on free ports, in a temporary directory where every log it
//! writes has a fixed name, waits until its SIP socket is bound, and on drop
//! stops it by PID (SIGTERM, then SIGKILL) and keeps its logs in the
//! artifacts directory. [`Sipp::wait`] waits for it to exit and returns a
//! [`SippRun`]: the exit status and the logs, so a test can read the INVITE
//! the carrier received (`-trace_msg`), the scenario's `<log>` lines
//! (`-trace_logs`) and its errors (`-trace_err`).
//!
//! Media, by [`SippMedia`]: the scenarios name their RTP port with the
//! keyword `[rtp_port]` (`-key rtp_port N`), so it can be SIPp's own
//! `-rtp_echo` socket or an [`RtpProbe`] of the test's. SIPp 3.6.1 counts
//! echoed packets only on its live screen (its final screen dump mostly
//! lacks the line) and never tells payload types apart, so a test that must
//! prove RTP or DTMF reached the carrier uses [`SippMedia::Probe`]: the probe
//! echoes every packet like `-rtp_echo` and records it, and
//! [`RtpProbe::digits`] reads the RFC 4733 telephone-events.
//!
//! The scenarios (see `e2e/sipp/README.md`): `uas-answer-echo.xml`,
//! `uas-answer-then-bye.xml`, `uas-busy.xml`, `uas-not-found.xml`,
//! `uas-unavailable.xml`, `uas-no-answer.xml`, `uas-digest.xml` (407),
//! `uas-digest-401.xml`, and the callers `uac-call.xml`, `uac-cancel.xml`,
//! `uac-wait-bye.xml` that try them; `uas-options.xml` (answers OPTIONS, one
//! per SIPp call: run it with a large `calls`) and `uas-register-digest.xml`
//! (a registrar with an MD5 challenge) for carrier qualify and registration.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tempfile::TempDir;
use tokio::net::UdpSocket;

/// Where the scenarios are: `<workspace>/e2e/sipp`.
pub fn scenarios_dir() -> PathBuf {
    crate::workspace_root().join("e2e/sipp")
}

/// `sipp -v`'s version line, e.g. `SIPp v3.6.1-SCTP-PCAP-RTPSTREAM.`; an
/// error saying how to install it if it is missing.
pub fn version() -> Result<String> {
    let output = Command::new("sipp")
        .arg("-v")
        .stdin(Stdio::null())
        .output()
        .context("running `sipp -v`: install Debian's sip-tester (scripts/test.sh does)")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("SIPp v"))
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("`sipp -v` printed no version line:\n{text}"))
}

/// Where the RTP of the scenario's SDP goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SippMedia {
    /// SIPp's own `-rtp_echo` socket: every packet goes back to its source.
    Echo,
    /// An [`RtpProbe`] of the test's ([`Sipp::probe`]): echoes, and records.
    Probe,
}

/// How to run SIPp; see [`SippOptions::carrier`] and [`SippOptions::caller`].
#[derive(Debug, Clone)]
pub struct SippOptions {
    /// A file in `e2e/sipp`, or a path.
    pub scenario: PathBuf,
    pub media: SippMedia,
    /// For a caller: where to call (`remote_host[:port]`).
    pub target: Option<SocketAddr>,
    /// `-s`: the user part a caller dials.
    pub service: Option<String>,
    /// More flags, e.g. `["-d", "3000"]` or `["-au", "user", "-ap", "pw"]`.
    pub args: Vec<String>,
    /// SIPp's own `-timeout` (with `-timeout_error`): it gives up, and fails,
    /// after this long, so it never outlives a test.
    pub timeout: Duration,
    /// `-m`: how many calls before SIPp exits.
    pub calls: u32,
    /// SIP over TCP (`-t t1`: one connection) instead of UDP.
    pub tcp: bool,
    /// `-key caller`: the user part of a caller's From (`uac-*.xml`).
    pub caller: String,
    /// `-p`: a fixed SIP port, e.g. to start a carrier again where the
    /// gateway already sends ([`Sipp::sip_addr`] of the one before);
    /// `None`: a free port.
    pub sip_port: Option<u16>,
    /// Signalling and media on `::1` instead of `127.0.0.1` (an IPv6
    /// carrier; the RTP probe, if any, on `::1` too).
    pub ipv6: bool,
    /// With [`SippMedia::Echo`]: the RTP port the SDP names instead of
    /// SIPp's own, e.g. a lossy relay of the test's in front of SIPp's
    /// echo socket ([`Sipp::echo_addr`]).
    pub rtp_port: Option<u16>,
}

impl SippOptions {
    /// A carrier (UAS) running `scenario`, echoing RTP with `-rtp_echo`.
    pub fn carrier(scenario: &str) -> Self {
        SippOptions {
            scenario: PathBuf::from(scenario),
            media: SippMedia::Echo,
            target: None,
            service: None,
            args: Vec::new(),
            timeout: Duration::from_secs(60),
            calls: 1,
            tcp: false,
            caller: "e2e".to_owned(),
            sip_port: None,
            ipv6: false,
            rtp_port: None,
        }
    }

    /// A caller (UAC) running `scenario` toward `target`, dialling `number`.
    pub fn caller(scenario: &str, target: SocketAddr, number: &str) -> Self {
        SippOptions {
            target: Some(target),
            service: Some(number.to_owned()),
            ..SippOptions::carrier(scenario)
        }
    }

    fn scenario_path(&self) -> PathBuf {
        if self.scenario.is_absolute() {
            self.scenario.clone()
        } else {
            scenarios_dir().join(&self.scenario)
        }
    }
}

/// The fixed names of SIPp's files in its working directory.
const MESSAGES: &str = "messages.log";
const LOGS: &str = "logs.log";
const ERRORS: &str = "errors.log";
const SCREEN: &str = "screen.log";
const STATS: &str = "stats.csv";
const OUTPUT: &str = "sipp.out";

/// A running SIPp. Dropping it stops the process (if it still runs) and
/// keeps its logs under the artifacts directory.
pub struct Sipp {
    /// Its SIP socket: where a caller sends INVITEs to this carrier.
    pub sip_addr: SocketAddr,
    /// The RTP address its SDP names (`c=`/`m=`).
    pub media_addr: SocketAddr,
    /// With [`SippMedia::Probe`]: the socket behind `media_addr`.
    pub probe: Option<RtpProbe>,
    /// SIPp's own `-rtp_echo` socket (`-mp`).
    pub echo_addr: SocketAddr,
    /// SIP over TCP (`-t t1`).
    tcp: bool,
    child: Option<Child>,
    label: String,
    // Last: removed after the process is gone.
    dir: TempDir,
}

impl Sipp {
    /// A carrier running `scenario` (a file in `e2e/sipp`) with `-rtp_echo`.
    pub async fn carrier(scenario: &str) -> Result<Sipp> {
        Sipp::start(SippOptions::carrier(scenario)).await
    }

    pub async fn start(options: SippOptions) -> Result<Sipp> {
        let scenario = options.scenario_path();
        if !scenario.is_file() {
            bail!("no SIPp scenario at {}", scenario.display());
        }
        version()?;
        let ip = if options.ipv6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        };
        let mut probe = match options.media {
            SippMedia::Probe => Some(RtpProbe::start_at(ip, true).await?),
            SippMedia::Echo => None,
        };
        // Ports are found free, then handed to SIPp: another process may
        // take one in between, so a failed bind is retried on new ports.
        let attempts = 3;
        for attempt in 1..=attempts {
            let dir = tempfile::Builder::new()
                .prefix("e2e-sipp-")
                .tempdir()
                .context("creating a temporary directory for SIPp")?;
            let sip_port = match options.sip_port {
                Some(port) => port,
                None if options.tcp => free_tcp_port(ip)?,
                None => free_udp_port_at(ip)?,
            };
            let media_port = free_media_port(ip)?;
            let local = ip.to_string();
            let rtp_port = probe
                .as_ref()
                .map(|p| p.addr().port())
                .or(options.rtp_port)
                .unwrap_or(media_port);
            let mut command = Command::new("sipp");
            command
                .current_dir(dir.path())
                .arg("-sf")
                .arg(&scenario)
                .args(["-i", &local, "-p", &sip_port.to_string()])
                .args(["-mi", &local, "-mp", &media_port.to_string()])
                .args(["-key", "rtp_port", &rtp_port.to_string()])
                .args(["-key", "caller", &options.caller])
                // The control socket, on loopback (it tries 8888 and up).
                .args(["-ci", "127.0.0.1"])
                .args(["-m", &options.calls.to_string()])
                .args([
                    "-timeout",
                    &format!("{}s", options.timeout.as_secs().max(1)),
                ])
                .arg("-timeout_error")
                .args(["-trace_msg", "-message_file", MESSAGES])
                .args(["-trace_logs", "-log_file", LOGS])
                .args(["-trace_err", "-error_file", ERRORS])
                .args(["-trace_screen", "-screen_file", SCREEN])
                .args(["-trace_stat", "-stf", STATS])
                .arg("-nostdin");
            if options.media == SippMedia::Echo {
                command.arg("-rtp_echo");
            }
            if options.tcp {
                command.args(["-t", "t1"]);
            }
            if let Some(service) = &options.service {
                command.args(["-s", service]);
            }
            command.args(&options.args);
            // `[::1]:5060` for IPv6: SIPp reads `::1:5060` as one address.
            if let Some(target) = options.target {
                command.arg(target.to_string());
            }
            let output = File::create(dir.path().join(OUTPUT)).context("creating sipp.out")?;
            command
                .stdin(Stdio::null())
                .stdout(Stdio::from(output.try_clone()?))
                .stderr(Stdio::from(output));
            let child = command.spawn().context("starting sipp")?;
            let mut sipp = Sipp {
                tcp: options.tcp,
                sip_addr: SocketAddr::new(ip, sip_port),
                media_addr: SocketAddr::new(ip, rtp_port),
                echo_addr: SocketAddr::new(ip, media_port),
                probe: None,
                child: Some(child),
                label: format!(
                    "{}.{}",
                    crate::test_label(),
                    scenario
                        .file_stem()
                        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
                ),
                dir,
            };
            match sipp.wait_bound(Duration::from_secs(10)).await {
                Ok(()) => {
                    sipp.probe = probe.take();
                    return Ok(sipp);
                }
                // Dropping this one keeps its logs among the artifacts.
                Err(_) if attempt < attempts && sipp.output().contains("Unable to bind") => {}
                Err(e) => return Err(e),
            }
        }
        bail!("SIPp could not bind its ports in {attempts} attempts")
    }

    /// Its working directory, where its logs are.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every message sent and received so far (`-trace_msg`).
    pub fn messages(&self) -> String {
        read(&self.dir.path().join(MESSAGES))
    }

    /// The scenario's `<log>` lines so far (`-trace_logs`).
    pub fn logs(&self) -> String {
        read(&self.dir.path().join(LOGS))
    }

    /// Unexpected messages and other errors so far (`-trace_err`).
    pub fn errors(&self) -> String {
        read(&self.dir.path().join(ERRORS))
    }

    /// What it printed so far.
    pub fn output(&self) -> String {
        read(&self.dir.path().join(OUTPUT))
    }

    /// The first request with `method` SIPp has received so far.
    pub fn received_request(&self, method: &str) -> Option<String> {
        first_request(&received_messages(&self.messages()), method)
    }

    /// Waits up to `timeout` for SIPp to exit (the scenario ran its `-m`
    /// calls, or failed); kills it if it does not.
    pub async fn wait(&mut self, timeout: Duration) -> Result<SippRun> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            let child = self
                .child
                .as_mut()
                .ok_or_else(|| anyhow!("SIPp was already stopped"))?;
            if let Some(status) = child.try_wait().context("waiting for sipp")? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.stop();
                bail!(
                    "SIPp did not finish within {timeout:?}; it received:\n{}\nerrors:\n{}",
                    crate::tail(&self.messages(), 60),
                    self.errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.child = None;
        Ok(self.run(status))
    }

    /// Stops SIPp: SIGTERM, up to 2 s, then SIGKILL. Its status, if it ran.
    pub fn stop(&mut self) -> Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        let status =
            crate::terminate(&mut child, Duration::from_secs(2)).context("stopping sipp")?;
        Ok(Some(status))
    }

    fn run(&self, status: ExitStatus) -> SippRun {
        SippRun {
            status,
            messages: self.messages(),
            logs: self.logs(),
            errors: self.errors(),
            screen: read(&self.dir.path().join(SCREEN)),
            output: self.output(),
        }
    }

    /// Until SIPp holds its SIP port (binding it ourselves fails), or exits.
    async fn wait_bound(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let output = self.output();
                let head: Vec<&str> = output.lines().take(5).collect();
                bail!("sipp exited at once ({status}):\n{}", head.join("\n"));
            }
            if port_bound(self.sip_addr, self.tcp)? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("sipp did not bind {} within {timeout:?}", self.sip_addr);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stopping sipp: {e:#}");
        }
        let dir = crate::artifacts_dir().join(format!("{}.sipp", self.label));
        let copied = std::fs::create_dir_all(&dir).and_then(|()| {
            for name in [MESSAGES, LOGS, ERRORS, SCREEN, OUTPUT] {
                let from = self.dir.path().join(name);
                if from.is_file() {
                    std::fs::copy(&from, dir.join(name))?;
                }
            }
            Ok(())
        });
        if std::thread::panicking() {
            eprintln!(
                "--- SIPp ({}), last messages ---\n{}\n--- SIPp errors ---\n{}\n---",
                match copied {
                    Ok(()) => format!("logs saved to {}", dir.display()),
                    Err(e) => format!("logs not saved: {e}"),
                },
                crate::tail(&self.messages(), 60),
                self.errors()
            );
        }
    }
}

/// How a SIPp run ended, and everything it wrote.
#[derive(Debug, Clone)]
pub struct SippRun {
    /// 0: every call succeeded; 1: at least one failed; 97: stopped by an
    /// internal command; 99: exited without a call; 255: a fatal error.
    pub status: ExitStatus,
    pub messages: String,
    pub logs: String,
    pub errors: String,
    pub screen: String,
    /// What it printed on stdout/stderr.
    pub output: String,
}

impl SippRun {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// An error with SIPp's errors and last messages unless every call
    /// succeeded.
    pub fn ensure_success(&self) -> Result<()> {
        if self.success() {
            return Ok(());
        }
        bail!(
            "SIPp failed ({}):\nerrors:\n{}\nlast messages:\n{}\noutput:\n{}",
            self.status,
            self.errors,
            crate::tail(&self.messages, 60),
            crate::tail(&self.output, 20)
        )
    }

    /// Every message SIPp received, in order.
    pub fn received(&self) -> Vec<String> {
        received_messages(&self.messages)
    }

    /// The first request with `method` SIPp received.
    pub fn received_request(&self, method: &str) -> Option<String> {
        first_request(&self.received(), method)
    }

    /// The rest of the first `<log>` line that starts with `prefix`.
    pub fn logged(&self, prefix: &str) -> Option<String> {
        self.logs
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|rest| rest.trim().to_owned())
    }

    /// Checks the digest in the Proxy-Authorization of the last INVITE
    /// SIPp received against `username`/`password` (SIPp 3.6.1 cannot: see
    /// `uas-digest.xml`).
    pub fn verify_proxy_authorization(&self, username: &str, password: &str) -> Result<()> {
        let invite = self
            .received()
            .into_iter()
            .rev()
            .find(|m| m.starts_with("INVITE ") && header(m, "Proxy-Authorization").is_some())
            .ok_or_else(|| anyhow!("SIPp received no INVITE with Proxy-Authorization"))?;
        verify_digest(&invite, "Proxy-Authorization", username, password)
    }
}

/// Checks the digest credentials in header `name` of `request` (a whole
/// SIP request) for `username`/`password`, with `shared::sip::digest`.
pub fn verify_digest(request: &str, name: &str, username: &str, password: &str) -> Result<()> {
    use shared::sip::digest;
    let method = request
        .split(' ')
        .next()
        .ok_or_else(|| anyhow!("not a request"))?;
    let value = header(request, name).ok_or_else(|| anyhow!("no {name} header"))?;
    let credentials = digest::Credentials::parse(&value)
        .map_err(|e| anyhow!("unreadable {name} {value:?}: {e}"))?;
    if credentials.username != username {
        bail!(
            "{name} is for user {:?}, not {username:?}",
            credentials.username
        );
    }
    let ha1 = digest::ha1(
        credentials.algorithm,
        username,
        &credentials.realm,
        password,
    );
    if !digest::verify(&credentials, method, &ha1) {
        bail!("{name} does not match the password: {value}");
    }
    Ok(())
}

/// The first value of header `name` (full name; case-insensitive) in a SIP
/// message.
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\n\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The messages marked "message received" in a `-trace_msg` file.
fn received_messages(trace: &str) -> Vec<String> {
    // Each entry: a line of dashes and a timestamp, then "UDP message
    // received [N] bytes :" or "UDP message sent (N bytes):", a blank
    // line, and the message.
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    let mut lines = trace.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("--------------------") {
            if let Some(message) = current.take() {
                out.push(message.join("\n").trim().to_owned());
            }
            let kind = lines.next().unwrap_or_default();
            current = kind.contains("message received").then(Vec::new);
        } else if let Some(message) = current.as_mut() {
            message.push(line);
        }
    }
    if let Some(message) = current {
        out.push(message.join("\n").trim().to_owned());
    }
    out
}

fn first_request(messages: &[String], method: &str) -> Option<String> {
    let prefix = format!("{method} ");
    messages.iter().find(|m| m.starts_with(&prefix)).cloned()
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Whether some process has bound UDP `addr` (an IPv4 address). Read from
/// /proc/net/udp rather than by trying to bind it: holding the port even
/// briefly could make SIPp's own bind fail.
/// Whether something listens on `addr` (a bound UDP socket, or a TCP
/// socket in LISTEN state), read from `/proc/net/{udp,tcp}`.
pub(crate) fn port_bound(addr: SocketAddr, tcp: bool) -> Result<bool> {
    let file = match (tcp, addr.is_ipv6()) {
        (true, false) => "/proc/net/tcp",
        (true, true) => "/proc/net/tcp6",
        (false, false) => "/proc/net/udp",
        (false, true) => "/proc/net/udp6",
    };
    let table = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    // /proc shows the address as little-endian u32s, in hex (one for IPv4,
    // four for IPv6).
    let octets: Vec<u8> = match addr.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    let mut wanted = String::new();
    for word in octets.chunks(4) {
        let word: [u8; 4] = word.try_into().context("four bytes")?;
        wanted.push_str(&format!("{:08X}", u32::from_le_bytes(word)));
    }
    wanted.push_str(&format!(":{:04X}", addr.port()));
    // TCP: state 0A is LISTEN.
    Ok(table.lines().skip(1).any(|l| {
        let mut fields = l.split_whitespace();
        let local = fields.nth(1);
        let state = fields.nth(1);
        local == Some(wanted.as_str()) && (!tcp || state == Some("0A"))
    }))
}

/// A TCP port on `ip` that was free a moment ago.
fn free_tcp_port(ip: IpAddr) -> Result<u16> {
    let listener = std::net::TcpListener::bind((ip, 0)).with_context(|| format!("binding {ip}"))?;
    Ok(listener.local_addr()?.port())
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_udp_port() -> Result<u16> {
    free_udp_port_at(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A UDP port on `ip` that was free a moment ago.
fn free_udp_port_at(ip: IpAddr) -> Result<u16> {
    let socket = std::net::UdpSocket::bind((ip, 0)).with_context(|| format!("binding {ip}"))?;
    Ok(socket.local_addr()?.port())
}

/// A port P with P and P+2 free on `ip`: SIPp binds both (audio and video
/// echo) whether or not it echoes.
fn free_media_port(ip: IpAddr) -> Result<u16> {
    for _ in 0..50 {
        let first = std::net::UdpSocket::bind((ip, 0)).with_context(|| format!("binding {ip}"))?;
        let port = first.local_addr()?.port();
        let Some(video) = port.checked_add(2) else {
            continue;
        };
        if std::net::UdpSocket::bind((ip, video)).is_ok() {
            return Ok(port);
        }
    }
    bail!("found no free pair of UDP ports P, P+2 on {ip}")
}

/// One RTP packet an [`RtpProbe`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePacket {
    pub from: SocketAddr,
    pub at: Instant,
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// A carrier's RTP socket for tests: records every RTP packet it receives
/// and (if asked) sends it straight back to its source, as SIPp's
/// `-rtp_echo` does. Stops when dropped.
pub struct RtpProbe {
    addr: SocketAddr,
    packets: Arc<Mutex<Vec<ProbePacket>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RtpProbe {
    pub async fn start(echo: bool) -> Result<RtpProbe> {
        RtpProbe::start_at(IpAddr::V4(Ipv4Addr::LOCALHOST), echo).await
    }

    /// The same on `ip` (`::1` for an IPv6 carrier).
    pub async fn start_at(ip: IpAddr, echo: bool) -> Result<RtpProbe> {
        let socket = UdpSocket::bind((ip, 0))
            .await
            .with_context(|| format!("binding the RTP probe on {ip}"))?;
        let addr = socket.local_addr()?;
        let packets = Arc::new(Mutex::new(Vec::new()));
        let recorded = packets.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                // Errors are ICMP unreachables from earlier echoes.
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                let datagram = &buf[..len];
                if let Some(packet) = parse_rtp(datagram, from)
                    && let Ok(mut all) = recorded.lock()
                {
                    all.push(packet);
                }
                if echo {
                    let _ = socket.send_to(datagram, from).await;
                }
            }
        });
        Ok(RtpProbe {
            addr,
            packets,
            task,
        })
    }

    /// The carrier's media vanishes: the socket closes, nothing more is
    /// recorded or echoed (a carrier gone without a BYE).
    pub fn vanish(&self) {
        self.task.abort();
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the first RTP packet came from (the gateway's carrier socket).
    pub fn first_source(&self) -> Option<SocketAddr> {
        self.packets.lock().ok()?.first().map(|p| p.from)
    }

    /// Every RTP packet received so far.
    pub fn packets(&self) -> Vec<ProbePacket> {
        self.packets.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// How many packets with `payload_type` arrived.
    pub fn count(&self, payload_type: u8) -> usize {
        self.packets()
            .iter()
            .filter(|p| p.payload_type == payload_type)
            .count()
    }

    /// The DTMF digits received as RFC 4733 telephone-events with payload
    /// type `pt`, in order: one per event (packets of one event share its
    /// SSRC and timestamp; retransmitted end packets count once).
    pub fn digits(&self, pt: u8) -> String {
        let mut seen: Vec<(u32, u32)> = Vec::new();
        let mut digits = String::new();
        for p in self.packets().iter().filter(|p| p.payload_type == pt) {
            let Some(&event) = p.payload.first() else {
                continue;
            };
            if seen.contains(&(p.ssrc, p.timestamp)) {
                continue;
            }
            seen.push((p.ssrc, p.timestamp));
            digits.push(match event {
                0..=9 => char::from(b'0' + event),
                10 => '*',
                11 => '#',
                12..=15 => char::from(b'A' + event - 12),
                _ => '?',
            });
        }
        digits
    }
}

impl Drop for RtpProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn parse_rtp(b: &[u8], from: SocketAddr) -> Option<ProbePacket> {
    let first = *b.first()?;
    if first >> 6 != 2 {
        return None;
    }
    let mut start = 12 + 4 * usize::from(first & 0x0F);
    if first & 0x10 != 0 {
        let words = u16::from_be_bytes(b.get(start + 2..start + 4)?.try_into().ok()?);
        start += 4 + 4 * usize::from(words);
    }
    let mut end = b.len();
    if first & 0x20 != 0 {
        end = end.checked_sub(usize::from(*b.last()?))?;
    }
    let second = *b.get(1)?;
    Some(ProbePacket {
        from,
        at: Instant::now(),
        marker: second & 0x80 != 0,
        payload_type: second & 0x7F,
        seq: u16::from_be_bytes(b.get(2..4)?.try_into().ok()?),
        timestamp: u32::from_be_bytes(b.get(4..8)?.try_into().ok()?),
        ssrc: u32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
        payload: b.get(start..end)?.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// These tests run the real `sipp`; without it they say so and pass
    /// (scripts/test.sh installs it, so CI always runs them).
    fn have_sipp() -> bool {
        match version() {
            Ok(_) => true,
            Err(e) => {
                eprintln!("skipping: {e:#}");
                false
            }
        }
    }

    /// Runs `caller` against a fresh `carrier`; both runs.
    async fn call(
        carrier: SippOptions,
        caller: &str,
        number: &str,
        args: &[&str],
    ) -> Result<(SippRun, SippRun, Sipp)> {
        let mut uas = Sipp::start(carrier).await?;
        let mut options = SippOptions::caller(caller, uas.sip_addr, number);
        options.args = args.iter().map(|a| (*a).to_owned()).collect();
        options.timeout = Duration::from_secs(20);
        let mut uac = Sipp::start(options).await?;
        let uac_run = uac.wait(Duration::from_secs(30)).await?;
        let uas_run = uas.wait(Duration::from_secs(30)).await?;
        Ok((uas_run, uac_run, uas))
    }

    #[test]
    fn reads_received_messages_from_a_trace() {
        let trace = "----------------------------------------------- 2026-01-01 00:00:00.0\n\
                     UDP message received [10] bytes :\n\nINVITE sip:1@x SIP/2.0\nFrom: <sip:a@b>;tag=1\n\
                     P-Asserted-Identity: <sip:+1555@x>\n\nv=0\n\n\
                     ----------------------------------------------- 2026-01-01 00:00:00.1\n\
                     UDP message sent (10 bytes):\n\nSIP/2.0 100 Trying\n\n";
        let received = received_messages(trace);
        assert_eq!(received.len(), 1, "{received:?}");
        let invite = first_request(&received, "INVITE").expect("the INVITE");
        assert_eq!(
            header(&invite, "p-asserted-identity").as_deref(),
            Some("<sip:+1555@x>")
        );
        assert_eq!(header(&invite, "Via"), None);
    }

    #[test]
    fn sipp_version() {
        if !have_sipp() {
            return;
        }
        let line = version().expect("sipp -v");
        assert!(line.starts_with("SIPp v3."), "{line}");
    }

    #[tokio::test]
    async fn answer_echo_logs_the_invite_and_the_probe_sees_dtmf() {
        if !have_sipp() {
            return;
        }
        let carrier = SippOptions {
            media: SippMedia::Probe,
            ..SippOptions::carrier("uas-answer-echo.xml")
        };
        let mut uas = Sipp::start(carrier).await.expect("start the carrier");
        let mut options = SippOptions::caller("uac-call.xml", uas.sip_addr, "15550100");
        options.args = vec!["-d".into(), "1500".into()];
        let mut uac = Sipp::start(options).await.expect("start the caller");

        // While the call is up, play the gateway: voice and the digits 4, #.
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let media = uas.media_addr;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut sent = 0;
        for (i, (pt, payload)) in [
            (0u8, vec![0xFFu8; 160]),
            (101, vec![4, 0x0A, 0, 160]),
            (101, vec![4, 0x8A, 1, 64]),
            (0, vec![0xFF; 160]),
            (101, vec![11, 0x0A, 0, 160]),
            (101, vec![11, 0x8A, 1, 64]),
        ]
        .into_iter()
        .enumerate()
        {
            let event_ts = if pt == 101 {
                8000 + (i as u32 / 3) * 800
            } else {
                i as u32 * 160
            };
            let mut packet = vec![0x80, pt];
            packet.extend_from_slice(&(i as u16).to_be_bytes());
            packet.extend_from_slice(&event_ts.to_be_bytes());
            packet.extend_from_slice(&0x00E2_E000u32.to_be_bytes());
            packet.extend_from_slice(&payload);
            rtp.send_to(&packet, media).await.expect("send RTP");
            sent += 1;
        }
        let mut echoed = 0;
        let mut buf = [0u8; 2048];
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(300), rtp.recv_from(&mut buf)).await
        {
            echoed += 1;
        }
        assert_eq!(echoed, sent, "the probe echoes like -rtp_echo");

        let uac_run = uac
            .wait(Duration::from_secs(30))
            .await
            .expect("caller ends");
        uac_run
            .ensure_success()
            .expect("the caller's call succeeded");
        let run = uas
            .wait(Duration::from_secs(30))
            .await
            .expect("carrier ends");
        run.ensure_success().expect("the carrier's call succeeded");

        let probe = uas.probe.as_ref().expect("a probe");
        assert_eq!(probe.count(0), 2);
        assert_eq!(probe.count(101), 4);
        assert_eq!(probe.digits(101), "4#");
        assert_eq!(
            run.logged("telephone-event payload type:").as_deref(),
            Some("101")
        );
        let from = run.logged("INVITE From:").expect("From logged");
        assert!(from.contains("sip:e2e@127.0.0.1"), "{from}");
        let pai = run
            .logged("INVITE P-Asserted-Identity:")
            .expect("P-Asserted-Identity logged");
        assert!(pai.contains("+15550001111"), "{pai}");
        let invite = run.received_request("INVITE").expect("an INVITE");
        assert!(
            invite.starts_with("INVITE sip:15550100@127.0.0.1:"),
            "{invite}"
        );
        assert!(run.received_request("BYE").is_some());
    }

    #[tokio::test]
    async fn failures_answer_with_their_codes() {
        if !have_sipp() {
            return;
        }
        for (scenario, status_line) in [
            ("uas-busy.xml", "SIP/2.0 486 Busy Here"),
            ("uas-not-found.xml", "SIP/2.0 404 Not Found"),
            ("uas-unavailable.xml", "SIP/2.0 503 Service Unavailable"),
        ] {
            let (uas, uac, _) = call(SippOptions::carrier(scenario), "uac-call.xml", "1", &[])
                .await
                .expect("run the pair");
            uas.ensure_success().expect("the carrier got its ACK");
            assert!(!uac.success(), "{scenario}: the call failed for the caller");
            assert!(uac.messages.contains(status_line), "{scenario}");
            assert!(uas.received_request("ACK").is_some(), "{scenario}");
        }
    }

    #[tokio::test]
    async fn no_answer_rings_until_cancel() {
        if !have_sipp() {
            return;
        }
        let (uas, uac, _) = call(
            SippOptions::carrier("uas-no-answer.xml"),
            "uac-cancel.xml",
            "1",
            &["-d", "300"],
        )
        .await
        .expect("run the pair");
        uac.ensure_success().expect("CANCEL got 200 and 487");
        uas.ensure_success().expect("the 487 was ACKed");
        assert!(uas.logs.contains("CANCEL received"));
    }

    #[tokio::test]
    async fn carrier_hangs_up_after_the_pause() {
        if !have_sipp() {
            return;
        }
        let carrier = SippOptions {
            args: vec!["-d".into(), "300".into()],
            ..SippOptions::carrier("uas-answer-then-bye.xml")
        };
        let (uas, uac, _) = call(carrier, "uac-wait-bye.xml", "1", &[])
            .await
            .expect("run the pair");
        uac.ensure_success().expect("the caller got the BYE");
        uas.ensure_success().expect("the BYE got 200");
        let bye = uac.received_request("BYE").expect("a BYE");
        assert!(
            bye.starts_with("BYE sip:e2e@127.0.0.1:"),
            "to the Contact: {bye}"
        );
        assert!(header(&bye, "To").is_some_and(|to| to.contains("SIPpTag00")));
    }

    #[tokio::test]
    async fn digest_407_is_checked_by_the_harness() {
        if !have_sipp() {
            return;
        }
        let credentials = ["-au", "carrieruser", "-ap", "carriersecret"];
        let (uas, uac, _) = call(
            SippOptions::carrier("uas-digest.xml"),
            "uac-call.xml",
            "1",
            &credentials,
        )
        .await
        .expect("run the pair");
        uac.ensure_success().expect("the caller authenticated");
        uas.ensure_success().expect("the carrier answered");
        uas.verify_proxy_authorization("carrieruser", "carriersecret")
            .expect("the digest matches");
        assert!(
            uas.verify_proxy_authorization("carrieruser", "wrong")
                .is_err(),
            "a wrong password does not verify"
        );

        let wrong = ["-au", "someoneelse", "-ap", "carriersecret"];
        let (uas, _, _) = call(
            SippOptions::carrier("uas-digest.xml"),
            "uac-call.xml",
            "1",
            &wrong,
        )
        .await
        .expect("run the pair");
        assert!(!uas.success(), "another user is refused");
        assert!(uas.messages.contains("SIP/2.0 403 Forbidden"));
    }

    #[tokio::test]
    async fn digest_401_is_checked_by_sipp() {
        if !have_sipp() {
            return;
        }
        for (password, ok) in [("carriersecret", true), ("wrong", false)] {
            let args = ["-au", "carrieruser", "-ap", password];
            let (uas, uac, _) = call(
                SippOptions::carrier("uas-digest-401.xml"),
                "uac-call.xml",
                "1",
                &args,
            )
            .await
            .expect("run the pair");
            assert_eq!(uas.success(), ok, "{password}: {}", uas.logs);
            assert_eq!(uac.success(), ok, "{password}");
        }
    }
}
