//! `gateway --check-config`: a valid configuration prints what the gateway
//! would run with and exits 0 without binding or writing anything; a bad
//! setting exits 2 naming it; a TOML file is read like the flags.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

/// A fresh, not yet created, directory path of this test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gw-check-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn check(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GATEWAY_") {
            command.env_remove(&key);
        }
    }
    command.arg("--check-config").args(args).output().unwrap()
}

#[test]
fn a_valid_configuration_is_summarised_and_nothing_is_written() {
    let data = scratch("data");
    let out = check(&[
        "--http-listen",
        "127.0.0.1:18080",
        "--sip-udp",
        "127.0.0.1:15060",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("http_listen = 127.0.0.1:18080"), "{stdout}");
    assert!(stdout.contains("sip_udp = 127.0.0.1:15060"), "{stdout}");
    assert!(
        stdout.contains("advertised_address = 127.0.0.1"),
        "{stdout}"
    );
    assert!(stdout.ends_with("configuration is valid\n"), "{stdout}");
    assert!(!data.exists(), "the check created the data directory");
    // Which web client it would serve: built in with `embed-client`.
    if cfg!(feature = "embed-client") {
        assert!(
            stdout.contains("web client embedded in the binary ("),
            "{stdout}"
        );
    } else {
        assert!(
            stdout.contains("web client from static_dir = dist"),
            "{stdout}"
        );
    }
    // A static_dir wins over the embedded copy.
    let dir = scratch("static");
    let out = check(&["--static-dir", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "web client from static_dir = {} (warning: no index.html",
            dir.display()
        )),
        "{stdout}"
    );
}

#[test]
fn a_bad_setting_exits_2_naming_it() {
    let out = check(&["--rtp-ports", "30000-20000"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid setting `rtp_ports`"), "{stderr}");

    let dir = scratch("toml");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.toml");
    std::fs::write(&file, "turn_urls = \"turn:turn.example.com\"\n").unwrap();
    let out = check(&["--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid setting `turn_secret`"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
