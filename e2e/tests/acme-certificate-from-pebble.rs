//! ACME (`--acme-domain`) against Pebble, Let's Encrypt's test CA
//! (Debian's `pebble`), with `pebble-challtestsrv` as its DNS server (every
//! name is 127.0.0.1): the gateway answers the HTTP-01 challenge on its
//! `--acme-http` port, gets a certificate for `dialer.test` and serves
//! HTTPS with it (a client that trusts only Pebble's root verifies it); after
//! a restart the certificate on disk is used again without a new order.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use e2e::pki::TestPki;
use e2e::{Gateway, GatewayOptions, http};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DOMAIN: &str = "dialer.test";

/// A process of the test's, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Process> {
    let log = std::fs::File::create(dir.join(format!("{program}.log")))?;
    let child = Command::new(program)
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()
        .with_context(|| format!("starting {program} (Debian's pebble package)"))?;
    Ok(Process(child))
}

fn free_udp_port() -> Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `GET /healthz` over TLS to the gateway, verifying its certificate for
/// `dialer.test` against `root` only; the status line.
async fn healthz_trusting(gateway: &Gateway, root: &CertificateDer<'static>) -> Result<String> {
    let tcp = tokio::net::TcpStream::connect(gateway.http).await?;
    let mut tls = http::tls_connector(root)?
        .connect(ServerName::try_from(DOMAIN)?, tcp)
        .await
        .context("TLS to the gateway, trusting Pebble's root")?;
    tls.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn gateway_gets_its_certificate_from_pebble_and_keeps_it() -> Result<()> {
    for program in ["/usr/bin/pebble", "/usr/bin/pebble-challtestsrv"] {
        if !Path::new(program).is_file() {
            bail!("{program} is missing: install Debian's pebble (scripts/test.sh does)");
        }
    }
    let dir = tempfile::tempdir()?;
    // Pebble's own HTTPS (its directory and management API).
    let pebble_tls = TestPki::new(dir.path(), "pebble")?;
    let dns = free_udp_port()?;
    let dns_management = e2e::free_tcp_port()?;
    let _dns = spawn(
        dir.path(),
        "pebble-challtestsrv",
        &[
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
            "-dns01",
            &format!("127.0.0.1:{dns}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{dns_management}"),
        ],
        &[],
    )?;
    let (acme, management, http01, tls_alpn) = (
        e2e::free_tcp_port()?,
        e2e::free_tcp_port()?,
        e2e::free_tcp_port()?,
        e2e::free_tcp_port()?,
    );
    let config = dir.path().join("pebble-config.json");
    let mut file = std::fs::File::create(&config)?;
    write!(
        file,
        "{}",
        serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{acme}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": pebble_tls.cert_file,
                "privateKey": pebble_tls.key_file,
                "httpPort": http01,
                "tlsPort": tls_alpn,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        })
    )?;
    let config = config.display().to_string();
    let _pebble = spawn(
        dir.path(),
        "pebble",
        &[
            "-config",
            &config,
            "-dnsserver",
            &format!("127.0.0.1:{dns}"),
        ],
        // No random waits before validating, no random nonce refusals.
        &[("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_WFE_NONCEREJECT", "0")],
    )?;
    e2e::wait_listening("Pebble", acme).await?;
    e2e::wait_listening("Pebble's management API", management).await?;

    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec![
            "--acme-domain".into(),
            DOMAIN.into(),
            "--acme-directory".into(),
            format!("https://127.0.0.1:{acme}/dir"),
            "--acme-ca".into(),
            pebble_tls.ca_file.display().to_string(),
            "--acme-http".into(),
            format!("127.0.0.1:{http01}"),
            "--acme-email".into(),
            "ops@dialer.test".into(),
        ],
        ..GatewayOptions::default()
    })
    .await?;

    // Pebble makes a new root at every start: ask it which.
    let pebble_api = format!("127.0.0.1:{management}");
    http::trust(&pebble_api, pebble_tls.ca_der.clone());
    let root = http::get(&format!("https://{pebble_api}/roots/0"), &[]).await?;
    ensure!(root.status == 200, "Pebble's root: {}", root.status);
    let root = CertificateDer::from_pem_slice(&root.body).context("Pebble's root is not PEM")?;

    let status = healthz_trusting(&gateway, &root).await?;
    ensure!(status.contains(" 200 "), "GET /healthz: {status}");
    // Not the test CA's: a client trusting only that one refuses it.
    ensure!(
        healthz_trusting(&gateway, &pebble_tls.ca_der)
            .await
            .is_err(),
        "the gateway's certificate is not Pebble's"
    );
    for file in ["acme/cert.pem", "acme/key.pem", "acme/account.json"] {
        ensure!(
            gateway.data_dir().join(file).is_file(),
            "no {file} in the data directory"
        );
    }

    gateway.restart().await?;
    let status = healthz_trusting(&gateway, &root).await?;
    ensure!(status.contains(" 200 "), "after a restart: {status}");
    let orders = gateway.log().matches("ordering a certificate").count();
    ensure!(
        orders == 1,
        "{orders} orders: the certificate on disk was not reused"
    );
    gateway.check_alive()
}
