//! The Debian package (`cargo deb`, metadata in gateway/Cargo.toml): made
//! from the gateway binary this test run uses (scripts/test.sh builds it
//! with the `embed-client` feature), installed with dpkg into a throwaway
//! root (unpacked, then configured: the maintainer scripts cargo-deb wrote
//! run against that root, in a private mount namespace whose empty /run
//! keeps them away from any systemd on the host); its unit passes
//! `systemd-analyze verify`; and the installed binary, started alone from
//! an empty directory with a fresh data directory, serves the phone page
//! and its WebAssembly from itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use tokio::io::AsyncBufReadExt;

const PACKAGE: &str = "dialer-gateway";

#[tokio::test]
async fn the_deb_installs_and_its_binary_serves_the_phone_from_itself() -> Result<()> {
    let started = std::time::Instant::now();
    let binary = e2e::gateway::binary()?;
    let scratch = tempfile::Builder::new().prefix("e2e-deb-").tempdir()?;
    let scratch = scratch.path();

    // The binary must carry the client: the package is useless otherwise.
    let check = run(Command::new(&binary)
        .arg("--check-config")
        .env_remove("GATEWAY_STATIC_DIR"))?;
    ensure!(
        check.contains("web client embedded in the binary"),
        "{} has no embedded web client (build it with `cargo build -p gateway --features \
         embed-client` after `trunk build --release`); --check-config said:\n{check}",
        binary.display()
    );

    // The package, from that binary (the dev profile's target/debug).
    let out = scratch.join("out");
    run(Command::new(cargo_deb()?)
        .current_dir(e2e::workspace_root())
        .env("CARGO_NET_OFFLINE", "true")
        .args([
            "-p",
            "gateway",
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "-o",
        ])
        .arg(&out))?;
    let deb = std::fs::read_dir(&out)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("cargo deb wrote no .deb")?;
    let packed_at = started.elapsed();

    // Installed into an empty root with dpkg's own database there.
    let root = scratch.join("root");
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "")?;
    let dpkg = |action: &str, what: &Path| -> Result<String> {
        let script = format!(
            "mount -t tmpfs tmpfs /run && exec dpkg --root='{}' --force-not-root \
             --force-bad-path --force-script-chrootless --force-depends {action} '{}'",
            root.display(),
            what.display()
        );
        run(Command::new("unshare").args(["--mount", "--", "sh", "-c", &script]))
    };
    dpkg("--unpack", &deb)?;
    dpkg("--configure", Path::new(PACKAGE))?;
    let status = run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["-s", PACKAGE]))?;
    ensure!(
        status.contains("Status: install ok installed"),
        "dpkg -s:\n{status}"
    );
    ensure!(
        status.contains("Conffiles:\n /etc/dialer-gateway/gateway.env "),
        "the settings file is not a conffile:\n{status}"
    );
    let env_file = root.join("etc/dialer-gateway/gateway.env");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&env_file)?.permissions());
    ensure!(
        mode & 0o077 == 0,
        "gateway.env (secrets) is readable by others: {mode:o}"
    );
    let unit = root.join("usr/lib/systemd/system/dialer-gateway.service");
    let unit_text = std::fs::read_to_string(&unit).context("the unit file is not installed")?;
    for directive in [
        "ExecStart=/usr/bin/dialer-gateway",
        "EnvironmentFile=/etc/dialer-gateway/gateway.env",
        "DynamicUser=yes",
        "StateDirectory=dialer-gateway",
        "Environment=GATEWAY_DATA_DIR=/var/lib/dialer-gateway",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        ensure!(
            unit_text.lines().any(|l| l == directive),
            "the unit lacks {directive}"
        );
    }
    // The postinst enabled it (as `systemctl enable` would): a link that
    // names the unit's path inside the root.
    let wants = root.join("etc/systemd/system/multi-user.target.wants/dialer-gateway.service");
    let link = std::fs::read_link(&wants).context("the package did not enable the service")?;
    ensure!(
        link == Path::new("/usr/lib/systemd/system/dialer-gateway.service"),
        "the service is enabled through {}",
        link.display()
    );
    let installed = root.join("usr/bin/dialer-gateway");

    // systemd's own check of every directive, when systemd-analyze is
    // there; the unit's binary path pointed into the root.
    if which("systemd-analyze") {
        let copy = scratch.join("verify/dialer-gateway.service");
        std::fs::create_dir_all(copy.parent().context("no parent")?)?;
        std::fs::write(
            &copy,
            unit_text.replace("/usr/bin/dialer-gateway", &installed.to_string_lossy()),
        )?;
        let output = Command::new("systemd-analyze")
            .arg("verify")
            .arg(&copy)
            .output()?;
        e2e::ensure_silent_success("systemd-analyze verify", &output)?;
    } else {
        eprintln!("note: no systemd-analyze here; the unit was not verified by systemd");
    }

    // Started alone: an empty working directory (no dist/), a fresh data
    // directory, loopback ports, none of the test run's GATEWAY_* settings.
    let cwd = scratch.join("cwd");
    std::fs::create_dir_all(&cwd)?;
    let mut command = tokio::process::Command::new(&installed);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GATEWAY_") {
            command.env_remove(&key);
        }
    }
    let mut child = command
        .current_dir(&cwd)
        .env("GATEWAY_DATA_DIR", scratch.join("state"))
        .args([
            "--http-listen",
            "127.0.0.1:0",
            "--sip-udp",
            "127.0.0.1:0",
            "--sip-tcp",
            "127.0.0.1:0",
            "--demo-carrier",
            "false",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("gateway ready ") {
                return Ok::<_, anyhow::Error>(line);
            }
        }
        bail!("the installed gateway exited before it was ready")
    })
    .await
    .context("the installed gateway printed no ready line in 30 s")??;
    let http = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .context("no http= in the ready line")?;
    let base = format!("http://{http}");

    let page = e2e::http::get(&format!("{base}/"), &[]).await?;
    ensure!(page.status == 200, "GET / answered {}", page.status);
    let html = page.text();
    let wasm = html
        .split(['\'', '"'])
        .find(|s| s.starts_with('/') && s.ends_with("_bg.wasm"))
        .with_context(|| format!("the page names no wasm file:\n{html}"))?
        .to_owned();
    let module = e2e::http::get(&format!("{base}{wasm}"), &[]).await?;
    ensure!(
        module.status == 200,
        "GET {wasm} answered {}",
        module.status
    );
    let header = |name: &str| {
        module
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    ensure!(
        header("content-type") == "application/wasm",
        "{wasm} served as {:?}",
        header("content-type")
    );
    ensure!(
        module.body.starts_with(b"\0asm"),
        "{wasm} is not WebAssembly"
    );
    ensure!(
        header("cache-control").contains("immutable"),
        "a hashed asset is not cached as immutable: {:?}",
        header("cache-control")
    );
    let etag = header("etag");
    ensure!(!etag.is_empty(), "{wasm} has no ETag");
    let again = e2e::http::get(&format!("{base}{wasm}"), &[("if-none-match", &etag)]).await?;
    ensure!(
        again.status == 304 && again.body.is_empty(),
        "a matching If-None-Match got {}",
        again.status
    );
    // A client route reloads into the app's page, with 404.
    let route = e2e::http::get(&format!("{base}/admin/carriers"), &[]).await?;
    ensure!(
        route.status == 404 && route.text().contains("_bg.wasm"),
        "a client route got {}",
        route.status
    );
    ensure!(
        !cwd.join("dist").exists() && std::fs::read_dir(&cwd)?.next().is_none(),
        "the gateway wrote into its working directory"
    );
    child.start_kill()?;
    let _ = child.wait().await;
    eprintln!(
        "package made in {:.1} s, whole test {:.1} s",
        packed_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo-deb` on PATH (scripts/test.sh installs it), or `$CARGO_DEB`.
fn cargo_deb() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CARGO_DEB") {
        return Ok(PathBuf::from(path));
    }
    if which("cargo-deb") {
        return Ok(PathBuf::from("cargo-deb"));
    }
    bail!("cargo-deb is not installed: `cargo install cargo-deb --version 3.8.0 --locked`")
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Runs `command` to success; its stdout and stderr together.
fn run(command: &mut Command) -> Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        output.status.success(),
        "{command:?} failed ({}):\n{said}",
        output.status
    );
    Ok(said)
}
