//! `GET /metrics`: refused (401, JSON) without the token; during a call
//! through a SIPp carrier it shows the active call, the registration and,
//! once the call ended, the carrier's attempts, outcome and setup latency;
//! the metrics listener serves it without a token; and a real Prometheus
//! server (Debian's `prometheus`) scrapes it with the bearer token: its
//! API reports `up == 1` and the call in progress. `promtool check
//! metrics` finds nothing to say about the text.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::gateway::GatewayOptions;
use e2e::sipp::Sipp;
use e2e::ws_phone::Phone;
use e2e::{Gateway, calls, http};

const TOKEN: &str = "e2e-metrics-token-5b1e0c7d";
const CARRIER: &str = "Metrics Carrier";

#[tokio::test]
async fn metrics_show_the_call_and_a_prometheus_server_scrapes_them() -> Result<()> {
    let metrics_port = e2e::free_tcp_port()?;
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec![
            "--metrics-listen".to_owned(),
            format!("127.0.0.1:{metrics_port}"),
            "--log-format".to_owned(),
            "json".to_owned(),
        ],
        env: vec![("GATEWAY_METRICS_TOKEN".to_owned(), TOKEN.to_owned())],
        ..Default::default()
    })
    .await?;

    // Refused without the token, or with another.
    for headers in [
        vec![],
        vec![("authorization", "Bearer not-the-token-at-all")],
    ] {
        let refused = http::get(&gateway.url("/metrics"), &headers).await?;
        ensure!(
            refused.status == 401,
            "/metrics with {headers:?} answered {}",
            refused.status
        );
        let body: serde_json::Value = refused.json()?;
        ensure!(body["code"] == "metrics_unauthorized", "{body}");
    }

    let mut carrier = Sipp::carrier("uas-answer-echo.xml").await?;
    calls::add_carrier(&gateway, CARRIER, carrier.sip_addr, |_| {}).await?;
    let mut phone = Phone::register(&gateway, "demo", &gateway.demo_password).await?;
    let (_, call) = phone.call_and_hold("+14155552671").await?;

    // During the call.
    let text = scrape(&gateway.url("/metrics"), Some(TOKEN)).await?;
    let expect = |text: &str, series: &str, want: f64| -> Result<()> {
        let got = value(text, series).with_context(|| format!("no {series} in:\n{text}"))?;
        ensure!(got == want, "{series} is {got}, not {want}");
        Ok(())
    };
    expect(&text, "gateway_active_calls{state=\"connected\"}", 1.0)?;
    expect(&text, "gateway_active_calls{state=\"ringing\"}", 0.0)?;
    expect(
        &text,
        &format!("gateway_active_calls_by_carrier{{carrier=\"{CARRIER}\"}}"),
        1.0,
    )?;
    expect(&text, "gateway_registrations", 1.0)?;
    ensure!(
        value(&text, "process_resident_memory_bytes").is_some_and(|v| v > 1e6),
        "no plausible RSS in:\n{text}"
    );

    // Prometheus's own linter of the exposition format.
    promtool_check(&text).await?;

    // A real Prometheus scrapes the HTTP listener with the bearer token.
    let prometheus = Prometheus::start(gateway.http, TOKEN).await?;
    let up = prometheus.wait_for("up", Duration::from_secs(20)).await?;
    ensure!(up == 1.0, "Prometheus says up = {up}");
    let active = prometheus
        .wait_for("sum(gateway_active_calls)", Duration::from_secs(10))
        .await?;
    ensure!(
        active == 1.0,
        "Prometheus read sum(gateway_active_calls) = {active}"
    );

    phone.hang_up(call).await?;
    carrier
        .wait(Duration::from_secs(10))
        .await?
        .ensure_success()?;
    // After it: the record was counted (written just after the call ended).
    let answered = format!(
        "gateway_calls_total{{direction=\"outbound\",carrier=\"{CARRIER}\",outcome=\"answered\"}}"
    );
    let text = e2e::eventually("the call counted", Duration::from_secs(5), || async {
        let text = scrape(&gateway.url("/metrics"), Some(TOKEN)).await?;
        let done = value(&text, "gateway_active_calls{state=\"connected\"}") == Some(0.0)
            && value(&text, &answered).is_some();
        Ok(done.then_some(text))
    })
    .await?;
    expect(&text, &answered, 1.0)?;
    expect(
        &text,
        &format!("gateway_carrier_attempts_total{{carrier=\"{CARRIER}\",code=\"200\"}}"),
        1.0,
    )?;
    expect(
        &text,
        &format!("gateway_call_setup_seconds_count{{carrier=\"{CARRIER}\"}}"),
        1.0,
    )?;
    expect(
        &text,
        &format!("gateway_call_setup_seconds_bucket{{carrier=\"{CARRIER}\",le=\"+Inf\"}}"),
        1.0,
    )?;

    // The metrics listener needs no token.
    let open = scrape(&format!("http://127.0.0.1:{metrics_port}/metrics"), None).await?;
    expect(
        &open,
        &format!("gateway_carrier_attempts_total{{carrier=\"{CARRIER}\",code=\"200\"}}"),
        1.0,
    )?;
    // Prometheus sees the counter too.
    let counted = prometheus
        .wait_for(
            &format!("gateway_calls_total{{carrier=\"{CARRIER}\",outcome=\"answered\"}}"),
            Duration::from_secs(10),
        )
        .await?;
    ensure!(
        counted == 1.0,
        "Prometheus read gateway_calls_total = {counted}"
    );
    gateway.check_alive()
}

/// `promtool check metrics` (from the `prometheus` package) on `text`:
/// the format and Prometheus's naming conventions.
async fn promtool_check(text: &str) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting promtool (Debian's `prometheus` package)")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    stdin.write_all(text.as_bytes()).await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    e2e::ensure_silent_success("promtool check metrics", &output)
        .with_context(|| format!("the text checked:\n{text}"))
}

async fn scrape(url: &str, token: Option<&str>) -> Result<String> {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("authorization", b)])
        .unwrap_or_default();
    let response = http::get(url, &headers).await?;
    ensure!(
        response.status == 200,
        "GET {url} answered {}: {}",
        response.status,
        response.text()
    );
    let kind = response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    ensure!(
        kind.starts_with("text/plain; version=0.0.4"),
        "content type {kind:?}"
    );
    Ok(response.text())
}

/// The value of the sample named exactly `series` (name and labels).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(s, _)| *s == series)
        .and_then(|(_, v)| v.parse().ok())
}

/// A Prometheus server on loopback, scraping the gateway every second.
struct Prometheus {
    child: tokio::process::Child,
    api: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    async fn start(target: std::net::SocketAddr, token: &str) -> Result<Prometheus> {
        let dir = tempfile::Builder::new()
            .prefix("e2e-prometheus-")
            .tempdir()?;
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: gateway\n    authorization:\n      \
                 type: Bearer\n      credentials: {token}\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )?;
        let port = e2e::free_tcp_port()?;
        let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context(
                "starting prometheus (Debian's `prometheus` package; scripts/test.sh installs it)",
            )?;
        let prometheus = Prometheus {
            child,
            api: format!("http://127.0.0.1:{port}/api/v1/query"),
            _dir: dir,
        };
        e2e::wait_listening("prometheus", port).await?;
        Ok(prometheus)
    }

    /// Waits for `query` to have one result, and returns its value.
    async fn wait_for(&self, query: &str, timeout: Duration) -> Result<f64> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = self.query(query).await? {
                return Ok(v);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "Prometheus had no result for {query} within {timeout:?}; its log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn query(&self, query: &str) -> Result<Option<f64>> {
        let url = format!("{}?query={}", self.api, percent_encode(query));
        let response = http::get(&url, &[]).await?;
        // 503 until it has started.
        if response.status == 503 {
            return Ok(None);
        }
        ensure!(
            response.status == 200,
            "Prometheus query {query}: {} {}",
            response.status,
            response.text()
        );
        let body: serde_json::Value = response.json()?;
        let results = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        match results.as_slice() {
            [] => Ok(None),
            [one] => Ok(one["value"][1].as_str().and_then(|v| v.parse().ok())),
            many => bail!("{query} has {} results: {body}", many.len()),
        }
    }

    fn log(&self) -> String {
        let path = self._dir.path().join("prometheus.log");
        e2e::tail(
            &std::fs::read_to_string(Path::new(&path)).unwrap_or_default(),
            20,
        )
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
