//! Headless Chromium through chromedriver (WebDriver, via fantoccini).
//!
//! One browser at a time per test process (a semaphore): the machine has two
//! cores, and two Chromiums plus two gateways make timings flaky.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;
use tokio::sync::{Semaphore, SemaphorePermit};

/// One browser per test at a time within a test binary (each test takes
/// both slots), except a test that needs two at once ([`Browser::start_pair`]).
static BROWSER_SLOTS: Semaphore = Semaphore::const_new(2);

/// The flags from the field notes: headless as root, no outside connections
/// (the machine's network is closed and Chromium would retry many times a
/// second), a fake microphone that needs no permission prompt.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    // The tests run in a network namespace that has only loopback: without
    // this Chromium gathers no ICE candidate there and a call never gets
    // media. (The gateway is ICE-lite and learns the browser's address from
    // its checks.)
    "--allow-loopback-in-peer-connection",
    // A call's remote audio plays without a user gesture.
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,900",
    // Console messages go to Chromium's stderr, which chromedriver copies
    // into its log (`--enable-chrome-logs`): kept for failed tests.
    "--enable-logging=stderr",
    "--v=0",
];

/// A headless Chromium session. Call [`Browser::finish`] at the end of the
/// test: it records artifacts if the test failed and closes the browser.
/// If the test panics instead, `Drop` still ends the WebDriver session and
/// stops chromedriver (by PID).
pub struct Browser {
    client: Option<Client>,
    driver: Option<Child>,
    driver_port: u16,
    session_id: Option<String>,
    label: String,
    driver_log: PathBuf,
    // Dropped after the processes are gone.
    _dir: TempDir,
    _slot: SemaphorePermit<'static>,
}

impl Browser {
    pub async fn start() -> Result<Browser> {
        Browser::start_trusting(&[]).await
    }

    /// A browser that accepts a server certificate whose public key hashes
    /// to one of `spki_sha256` ([`crate::pki::TestPki::spki_sha256`]) as
    /// valid, so that an `https://` page of a gateway with a test
    /// certificate is a secure context (microphone, `wss://`).
    pub async fn start_trusting(spki_sha256: &[&str]) -> Result<Browser> {
        let slot = BROWSER_SLOTS
            .acquire_many(2)
            .await
            .context("the browser semaphore is closed")?;
        let extra = if spki_sha256.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "--ignore-certificate-errors-spki-list={}",
                spki_sha256.join(",")
            )]
        };
        Browser::start_in(slot, extra).await
    }

    /// Two browsers (e.g. two tabs of one agent), started one after the other.
    pub async fn start_pair() -> Result<(Browser, Browser)> {
        let mut first_slot = BROWSER_SLOTS
            .acquire_many(2)
            .await
            .context("the browser semaphore is closed")?;
        let second_slot = first_slot.split(1).context("splitting the browser slots")?;
        let first = Browser::start_in(first_slot, Vec::new()).await?;
        match Browser::start_in(second_slot, Vec::new()).await {
            Ok(second) => Ok((first, second)),
            Err(e) => {
                // The first one's artifacts are kept; the error is the second's.
                let _ = first.finish(Ok(())).await;
                Err(e)
            }
        }
    }

    async fn start_in(slot: SemaphorePermit<'static>, extra_args: Vec<String>) -> Result<Browser> {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        let chromium =
            std::env::var("CHROMIUM_BIN").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        for program in [&chromedriver, &chromium] {
            if !Path::new(program).is_file() {
                bail!(
                    "{program} is missing: install Debian's chromium and chromium-driver \
                     (scripts/test.sh does)"
                );
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("e2e-chromium-")
            .tempdir()
            .context("creating a temporary browser directory")?;
        let profile = dir.path().join("profile");
        let driver_log = dir.path().join("chromedriver.log");
        let port = crate::free_tcp_port()?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .arg("--enable-chrome-logs")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {chromedriver}"))?;

        let mut browser = Browser {
            client: None,
            driver: Some(driver),
            driver_port: port,
            session_id: None,
            label: crate::test_label(),
            driver_log,
            _dir: dir,
            _slot: slot,
        };

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(extra_args);
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a json! object literal is an object");
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match builder.connect(&url).await {
                Ok(client) => break client,
                // chromedriver not listening yet.
                Err(NewSessionError::Failed(_) | NewSessionError::FailedC(_))
                    if Instant::now() < deadline =>
                {
                    if let Some(status) = browser.driver_exited()? {
                        bail!(
                            "chromedriver exited ({status}); its log:\n{}",
                            browser.driver_log_tail(40)
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => bail!(
                    "could not start a Chromium session through chromedriver: {e}; its log:\n{}",
                    browser.driver_log_tail(40)
                ),
            }
        };
        browser.session_id = client.session_id().await.ok().flatten();
        browser.client = Some(client);
        Ok(browser)
    }

    pub fn client(&self) -> Result<&Client> {
        self.client
            .as_ref()
            .ok_or_else(|| anyhow!("the browser was closed"))
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client()?
            .goto(url)
            .await
            .with_context(|| format!("opening {url}"))
    }

    /// The first element matching `css`, once there is one.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element> {
        let client = self.client()?;
        crate::eventually(&format!("an element matching `{css}`"), timeout, || async {
            Ok(client.find_all(Locator::Css(css)).await?.into_iter().next())
        })
        .await
    }

    /// The text of the first element matching `css`, once it is displayed
    /// and its text is not empty.
    pub async fn wait_for_text(&self, css: &str, timeout: Duration) -> Result<String> {
        let client = self.client()?;
        crate::eventually(
            &format!("a visible, non-empty `{css}`"),
            timeout,
            || async {
                let Some(element) = client.find_all(Locator::Css(css)).await?.into_iter().next()
                else {
                    return Ok(None);
                };
                if !element.is_displayed().await? {
                    return Ok(None);
                }
                let text = element.text().await?;
                Ok((!text.trim().is_empty()).then_some(text))
            },
        )
        .await
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> Result<usize> {
        Ok(self
            .client()?
            .find_all(Locator::Css(css))
            .await
            .with_context(|| format!("looking for `{css}`"))?
            .len())
    }

    /// Attribute `name` of the first element matching `css`, if both exist.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        let elements = self.client()?.find_all(Locator::Css(css)).await?;
        match elements.into_iter().next() {
            Some(element) => Ok(element.attr(name).await?),
            None => Ok(None),
        }
    }

    /// Types `text` into the input matching `css` (after clearing it).
    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let element = self.wait_for(css, Duration::from_secs(10)).await?;
        element
            .clear()
            .await
            .with_context(|| format!("clearing `{css}`"))?;
        element
            .send_keys(text)
            .await
            .with_context(|| format!("typing into `{css}`"))
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        let element = self.wait_for(css, Duration::from_secs(10)).await?;
        element
            .click()
            .await
            .with_context(|| format!("clicking `{css}`"))
    }

    /// Chromium's network emulation for this session (chromedriver's
    /// `network_conditions`): `latency` added to each request and at most
    /// `bytes_per_second` each way, as over a slow link; for figures only.
    pub async fn emulate_network(&self, latency: Duration, bytes_per_second: u64) -> Result<()> {
        let session = self
            .session_id
            .as_deref()
            .ok_or_else(|| anyhow!("no WebDriver session"))?;
        let url = format!(
            "http://127.0.0.1:{}/session/{session}/chromium/network_conditions",
            self.driver_port
        );
        let body = json!({ "network_conditions": {
            "offline": false,
            "latency": latency.as_millis() as u64,
            "download_throughput": bytes_per_second,
            "upload_throughput": bytes_per_second,
        }});
        let response = crate::http::post_json(&url, serde_json::to_vec(&body)?, &[]).await?;
        if response.status != 200 {
            bail!(
                "chromedriver refused the network conditions ({}): {}",
                response.status,
                response.text()
            );
        }
        Ok(())
    }

    /// Ends the test's use of the browser. If `result` is an error, first
    /// saves a screenshot, the page's HTML and chromedriver's log (with the
    /// page's console) to the artifacts directory and names them in the error.
    pub async fn finish(mut self, result: Result<()>) -> Result<()> {
        let result = match result {
            Ok(()) => Ok(()),
            Err(e) => {
                let saved = self.save_artifacts().await;
                Err(e.context(saved))
            }
        };
        if let Some(client) = self.client.take()
            && let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(10), client.close()).await
        {
            // Closed: chromedriver has quit Chromium already.
            self.session_id = None;
        }
        self.stop_driver();
        result
    }

    async fn save_artifacts(&self) -> String {
        let dir = crate::artifacts_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return format!("(no artifacts: cannot create {}: {e})", dir.display());
        }
        let mut notes = Vec::new();
        if let Some(client) = &self.client {
            let png = dir.join(format!("{}.png", self.label));
            match client.screenshot().await {
                Ok(bytes) => match std::fs::write(&png, bytes) {
                    Ok(()) => notes.push(format!("screenshot {}", png.display())),
                    Err(e) => notes.push(format!("screenshot not written: {e}")),
                },
                Err(e) => notes.push(format!("no screenshot: {e}")),
            }
            let html = dir.join(format!("{}.html", self.label));
            match client.source().await {
                Ok(source) => match std::fs::write(&html, source) {
                    Ok(()) => notes.push(format!("page source {}", html.display())),
                    Err(e) => notes.push(format!("page source not written: {e}")),
                },
                Err(e) => notes.push(format!("no page source: {e}")),
            }
            if let Ok(url) = client.current_url().await {
                notes.push(format!("page {url}"));
            }
        }
        let log = dir.join(format!("{}.chromedriver.log", self.label));
        if std::fs::copy(&self.driver_log, &log).is_ok() {
            notes.push(format!("chromedriver log {}", log.display()));
        }
        format!("browser artifacts: {}", notes.join(", "))
    }

    fn driver_exited(&mut self) -> Result<Option<std::process::ExitStatus>> {
        match self.driver.as_mut() {
            Some(driver) => Ok(driver.try_wait()?),
            None => Ok(None),
        }
    }

    fn driver_log_tail(&self, lines: usize) -> String {
        match std::fs::read(&self.driver_log) {
            Ok(bytes) => crate::tail(&String::from_utf8_lossy(&bytes), lines),
            Err(e) => format!("(no log: {e})"),
        }
    }

    /// Ends the WebDriver session with a blocking request (usable from
    /// `Drop`), so that chromedriver quits Chromium, then stops chromedriver.
    fn stop_driver(&mut self) {
        if let Some(session) = self.session_id.take() {
            let _ = delete_session_blocking(self.driver_port, &session);
        }
        if let Some(mut driver) = self.driver.take() {
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.driver.is_some() {
            // Not finished: the test panicked or returned early.
            if std::thread::panicking() {
                let dir = crate::artifacts_dir();
                let log = dir.join(format!("{}.chromedriver.log", self.label));
                if std::fs::create_dir_all(&dir).is_ok()
                    && std::fs::copy(&self.driver_log, &log).is_ok()
                {
                    eprintln!("chromedriver log saved to {}", log.display());
                }
            }
            self.client = None;
            self.stop_driver();
        }
    }
}

/// `DELETE /session/{id}` over a plain blocking socket.
fn delete_session_blocking(port: u16, session: &str) -> std::io::Result<()> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // Read the answer's head and body, not until EOF: chromedriver may keep
    // the connection open.
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Ok(());
            }
        }
    }
}
