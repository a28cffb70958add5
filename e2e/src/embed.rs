//! Steps of the embedding tests: an API token and the allowed origins set
//! through the admin API, the demo CRM (`e2e/crm/server.mjs`, Node) on a
//! port of its own, and the `<dialer-phone>` events the CRM page collects
//! in `window.__events`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hyper::Method;
use serde_json::{Value, json};

use crate::{Browser, Gateway, http};

/// Creates an admin API token (as the CRM's integration would hold).
pub async fn api_token(gateway: &Gateway) -> Result<String> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::post_json(
        &gateway.url("/api/v1/tokens"),
        serde_json::to_vec(&json!({"name": "Demo CRM"}))?,
        &[("cookie", admin.cookie.as_str())],
    )
    .await?;
    if response.status != 201 {
        bail!(
            "POST /api/v1/tokens answered {}: {}",
            response.status,
            response.text()
        );
    }
    let created: Value = response.json()?;
    created["token"]
        .as_str()
        .map(str::to_owned)
        .context("no token in the answer")
}

/// Allows `origins` to embed the phone.
pub async fn allow_origins(gateway: &Gateway, origins: &[String]) -> Result<()> {
    settings(gateway, json!({"allowed_origins": origins})).await
}

/// `PUT /api/v1/embed/settings` with `body`.
pub async fn settings(gateway: &Gateway, body: Value) -> Result<()> {
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let response = http::request(
        Method::PUT,
        &gateway.url("/api/v1/embed/settings"),
        &[
            ("cookie", admin.cookie.as_str()),
            ("content-type", "application/json"),
        ],
        Some(serde_json::to_vec(&body)?),
    )
    .await?;
    if response.status != 200 {
        bail!(
            "PUT /api/v1/embed/settings answered {}: {}",
            response.status,
            response.text()
        );
    }
    Ok(())
}

/// The secret the demo CRM checks webhook signatures with.
pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";

/// The demo CRM, served by Node on its own port; stopped (by PID) on drop.
pub struct Crm {
    child: Child,
    pub port: u16,
}

impl Crm {
    pub async fn start(gateway: &Gateway, api_token: &str) -> Result<Crm> {
        let port = crate::free_tcp_port()?;
        let script = crate::workspace_root().join("e2e/crm/server.mjs");
        let child = Command::new("node")
            .arg(&script)
            .env("DIALER_GATEWAY", gateway.url(""))
            .env("DIALER_API_TOKEN", api_token)
            .env("DIALER_AGENT", "demo")
            .env("DIALER_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting node {}", script.display()))?;
        let crm = Crm { child, port };
        crate::wait_listening("the demo CRM", port).await?;
        Ok(crm)
    }

    /// The CRM's origin: `localhost`, so that it is another site than the
    /// gateway's `127.0.0.1` (not only another port).
    pub fn origin(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.origin())
    }
}

impl Crm {
    /// The webhook events the CRM accepted (signature checked), as
    /// `{event, call, record}`.
    pub async fn webhook_events(&self) -> Result<Vec<Value>> {
        let response = http::get(
            &format!("http://127.0.0.1:{}/webhook-events", self.port),
            &[],
        )
        .await?;
        response.json()
    }
}

impl Drop for Crm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The events the CRM page has received so far, in order.
pub async fn events(browser: &Browser) -> Result<Vec<Value>> {
    let value = browser
        .client()?
        .execute("return window.__events || [];", vec![])
        .await
        .context("reading window.__events")?;
    Ok(serde_json::from_value(value)?)
}

/// The detail of the first `name` event, once the page has one.
pub async fn wait_event(browser: &Browser, name: &str, timeout: Duration) -> Result<Value> {
    let result = crate::eventually(&format!("a `{name}` event"), timeout, || async {
        Ok(events(browser)
            .await?
            .into_iter()
            .find(|e| e["name"] == name)
            .map(|e| e["detail"].clone()))
    })
    .await;
    match result {
        Ok(detail) => Ok(detail),
        Err(e) => {
            let seen = events(browser).await.unwrap_or_default();
            bail!("{e:#}; events so far: {}", Value::Array(seen))
        }
    }
}
