//! Interop: SIPp (Debian's sip-tester) calls the demo carrier with
//! `e2e/sipp/uac-call.xml` (the gateway's kind of offer: PCMU, PCMA,
//! telephone-event), talks for a while with `-rtp_echo`, and hangs up.
//! A third-party UAC accepting our 100/180/200 and BYE answer is the check.
//! Without `sipp` installed the test says so and passes (scripts/test.sh
//! installs it).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway::demo_carrier::{self, DemoCarrierConfig};

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port on 127.0.0.1")
        .port()
}

/// SIPp binds its media port P and P+2 (video), echo or not.
fn free_media_port() -> u16 {
    loop {
        let port = free_udp_port();
        if port < u16::MAX - 2 && std::net::UdpSocket::bind(("127.0.0.1", port + 2)).is_ok() {
            return port;
        }
    }
}

#[tokio::test]
async fn sipp_calls_the_demo_carrier() {
    if Command::new("sipp").arg("-v").output().is_err() {
        eprintln!("skipping: sipp is not installed (apt-get install sip-tester)");
        return;
    }
    let carrier = demo_carrier::start(DemoCarrierConfig {
        answer_delay: Duration::from_millis(200),
        ..DemoCarrierConfig::default()
    })
    .await
    .expect("the demo carrier starts");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../e2e/sipp/uac-call.xml");
    let dir = std::env::temp_dir().join(format!("demo-carrier-sipp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let media = free_media_port();
    let mut sipp = Command::new("sipp")
        .current_dir(&dir)
        .arg("-sf")
        .arg(&scenario)
        .args(["-i", "127.0.0.1", "-p", &free_udp_port().to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &media.to_string(), "-rtp_echo"])
        .args(["-key", "rtp_port", &media.to_string()])
        .args(["-key", "caller", "+14155550123"])
        .args([
            "-ci",
            "127.0.0.1",
            "-m",
            "1",
            "-s",
            "15550100",
            "-d",
            "2500",
        ])
        .args(["-timeout", "20s", "-timeout_error", "-nostdin"])
        .args(["-trace_msg", "-message_file", "messages.log"])
        .args(["-trace_err", "-error_file", "errors.log"])
        .arg(carrier.sip_addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp starts");

    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = sipp.try_wait().expect("waiting for sipp") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = sipp.kill();
            panic!("sipp did not finish in 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let (messages, errors) = (read("messages.log"), read("errors.log"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "sipp failed ({status}):\n{errors}\n{messages}"
    );
    for line in [
        "SIP/2.0 100 Trying",
        "SIP/2.0 180 Ringing",
        "SIP/2.0 200 OK",
        "a=rtpmap:101 telephone-event/8000",
        "CSeq: 10 BYE",
    ] {
        assert!(messages.contains(line), "no {line:?} in:\n{messages}");
    }
    carrier.shutdown().await;
}
