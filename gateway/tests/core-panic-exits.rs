//! A panic in the SIP core ends the process with a non-zero status and the
//! panic's message on stderr, instead of leaving the HTTP server up in front
//! of a dead core. The gateway binary runs as a child process; in debug
//! builds `GATEWAY_TEST_CORE_PANIC` makes its driver panic on the first SIP
//! message, which a UDP OPTIONS provides. Release builds ignore the
//! variable, and a test holds them to it.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PANIC_ENV: &str = "GATEWAY_TEST_CORE_PANIC";

struct Gateway {
    child: Child,
    http: SocketAddr,
    sip_udp: SocketAddr,
    stderr: Option<JoinHandle<String>>,
    data_dir: std::path::PathBuf,
}

impl Gateway {
    fn start(env: &[(&str, &str)]) -> Gateway {
        static N: AtomicU64 = AtomicU64::new(0);
        let data_dir = std::env::temp_dir().join(format!(
            "gw-core-panic-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("GATEWAY_") {
                command.env_remove(&key);
            }
        }
        let mut child = command
            .env_remove("RUST_LOG")
            .args(["--http-listen", "127.0.0.1:0"])
            .args(["--sip-udp", "127.0.0.1:0"])
            .args(["--sip-tcp", "127.0.0.1:0"])
            .args(["--advertised-address", "127.0.0.1"])
            .args(["--log-level", "warn"])
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--static-dir")
            .arg(data_dir.join("no-client"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read stderr all along, so that the child never blocks on it.
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.starts_with("gateway ready"), "ready line: {line:?}");
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(name))
                .unwrap()
                .parse()
                .unwrap()
        };
        Gateway {
            http: field("http="),
            sip_udp: field("sip_udp="),
            child,
            stderr: Some(stderr),
            data_dir,
        }
    }

    /// Waits at most `limit` for the process to exit.
    fn exit_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn stderr(&mut self) -> String {
        self.stderr.take().unwrap().join().unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn healthz(http: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(http)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// Sends an OPTIONS over UDP; the first line of the answer, if one comes
/// within two seconds.
fn options(sip_udp: SocketAddr) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = socket.local_addr().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let request = format!(
        "OPTIONS sip:{sip_udp} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-core-panic-{}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{me}>;tag=probe\r\n\
         To: <sip:{sip_udp}>\r\n\
         Call-ID: core-panic-probe-{}@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        me.port(),
        me.port()
    );
    socket.send_to(request.as_bytes(), sip_udp).unwrap();
    let mut buf = [0u8; 4096];
    let (len, _) = socket.recv_from(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    text.lines().next().map(str::to_owned)
}

#[cfg(debug_assertions)]
#[test]
fn a_panic_in_the_sip_core_ends_the_process_with_its_message() {
    let message = "deliberate core panic for tests/core-panic-exits.rs";
    let mut gateway = Gateway::start(&[(PANIC_ENV, message)]);
    // Up and serving HTTP: the state that must not outlive the core.
    let health = healthz(gateway.http).unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    assert_eq!(
        options(gateway.sip_udp),
        None,
        "a dead core answers nothing"
    );
    let status = gateway
        .exit_within(Duration::from_secs(10))
        .expect("the gateway exits once its SIP core has panicked");
    let stderr = gateway.stderr();
    assert_eq!(status.code(), Some(70), "{status}; stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "gateway: the SIP core panicked: {message}; exiting"
        )),
        "stderr:\n{stderr}"
    );
    assert!(
        healthz(gateway.http).is_err(),
        "nothing serves HTTP any more"
    );
}

/// The same gateway without the variable (in release builds: with it, too)
/// answers and keeps running, so the exit above is the panic's doing.
#[test]
fn without_the_test_hook_the_core_answers_and_the_process_stays() {
    let env: &[(&str, &str)] = if cfg!(debug_assertions) {
        &[]
    } else {
        &[(PANIC_ENV, "release builds must not read this")]
    };
    let mut gateway = Gateway::start(env);
    let answer = options(gateway.sip_udp);
    assert_eq!(answer.as_deref(), Some("SIP/2.0 200 OK"));
    assert_eq!(gateway.exit_within(Duration::from_millis(500)), None);
    let health = healthz(gateway.http).unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}
