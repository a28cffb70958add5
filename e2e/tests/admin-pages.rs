//! The admin pages in Chromium, over the REST API only: an admin creates a
//! carrier pointing at SIPp (its secret typed in, never shown or returned),
//! a DID routed to the demo agent (and more by CSV import), a ring group,
//! and the agent's caller ID; the agent's next call shows that caller ID at
//! SIPp and a call to the new DID rings the agent; the CRM widget settings
//! and an API token (shown once, working until revoked) are set up on the
//! Integrations page. Every admin page is
//! saved as `admin-<page>.png` in the artifacts directory. A carrier the
//! API refuses shows the gateway's message next to the field at fault; an
//! agent gets no admin navigation and "Not allowed" on an admin page.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::admin::{self, Outcome};
use e2e::sipp::{Sipp, SippMedia, SippOptions};
use e2e::{Browser, Gateway, calls, http};
use shared::api::{CallerIds, Carrier};

const DID: &str = "+14155550188";
const SECRET: &str = "typed-Secret-5521";
const CARRIER_FORM: &str = "form#carrier-form";
const DID_FORM: &str = "form#did-form";
const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
const RINGING: &str = r#"#incoming-call[data-state="ringing"]"#;

#[tokio::test]
async fn admin_sets_up_a_carrier_did_and_caller_id_that_calls_then_use() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let mut carrier = Sipp::start(SippOptions {
        media: SippMedia::Probe,
        ..SippOptions::carrier("uas-answer-echo.xml")
    })
    .await?;
    let api = gateway.sign_in("admin", &gateway.admin_password).await?;
    let cookie = [("cookie", api.cookie.as_str())];
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        browser.wait_for("nav.admin-nav", Duration::from_secs(5)).await?;

        // Carrier: SIPp, with a secret typed in and inbound calls from 127.0.0.1.
        admin::open(&browser, "carriers").await?;
        let f = CARRIER_FORM;
        admin::fill(&browser, f, "name", "SIPp UAS").await?;
        admin::fill(&browser, f, "host", "127.0.0.1").await?;
        admin::fill(&browser, f, "port", &carrier.sip_addr.port().to_string()).await?;
        admin::fill(&browser, f, "username", "trunkuser").await?;
        admin::fill(&browser, f, "secret", SECRET).await?;
        admin::fill(&browser, f, "priority", "1").await?;
        admin::fill(&browser, f, "inbound_sources", "127.0.0.1").await?;
        // SIPp's scenario takes one INVITE: no OPTIONS.
        admin::check(&browser, f, "qualify", false).await?;
        let done = admin::submit_ok(&browser, f).await?;
        ensure!(done.contains("Created"), "carrier form says {done:?}");
        let carrier_id = admin::editing_id(&browser, f).await?;
        browser
            .wait_for(&format!(r#"table#carriers tbody tr[data-id="{carrier_id}"]"#), Duration::from_secs(10))
            .await?;

        // The API never returns the secret.
        let response = http::get(&gateway.url(&format!("/api/v1/carriers/{carrier_id}")), &cookie).await?;
        ensure!(response.status == 200, "GET carrier: {} {}", response.status, response.text());
        ensure!(!response.text().contains(SECRET), "the secret came back: {}", response.text());
        let value: serde_json::Value = response.json()?;
        ensure!(value.get("secret").is_none(), "a secret field came back: {value}");
        let stored: Carrier = response.json()?;
        ensure!(stored.has_secret && stored.inbound_sources == ["127.0.0.1"], "{stored:?}");
        ensure!(!stored.qualify && stored.priority == 1, "{stored:?}");

        // Nor does the edit form show it.
        browser.click("button.form-cancel").await?;
        browser
            .click(&format!(r#"table#carriers tbody tr[data-id="{carrier_id}"] button.row-edit"#))
            .await?;
        let secret = browser
            .wait_for(&format!(r#"{f}[data-editing="{carrier_id}"] input[name="secret"]"#), Duration::from_secs(5))
            .await?;
        let shown = secret.prop("value").await?.unwrap_or_default();
        ensure!(shown.is_empty(), "the edit form shows a secret: {shown:?}");
        ensure!(
            secret.attr("placeholder").await?.as_deref() == Some("unchanged"),
            "the secret's placeholder"
        );
        ensure!(
            !browser.client()?.source().await?.contains(SECRET),
            "the secret is somewhere in the page"
        );
        let health = browser
            .wait_for_text("#carrier-status", Duration::from_secs(5))
            .await?;
        ensure!(health.contains("Qualify off"), "carrier status: {health:?}");
        // Its rates: a bad file is refused naming the line; a good one is saved.
        browser.fill("textarea#rates-csv", "prefix,price\n44,0.0100,UK\n44x,0.01\n").await?;
        browser.click("button#rates-import").await?;
        let said = browser.wait_for_text("#rates-report", Duration::from_secs(10)).await?;
        ensure!(said.contains("line 3: prefix"), "rates report: {said:?}");
        browser.fill("textarea#rates-csv", "prefix,price\n44,0.0100,UK\n").await?;
        browser.click("button#rates-import").await?;
        e2e::eventually("the rates saved", Duration::from_secs(10), || async {
            let said = browser.wait_for_text("#rates-report", Duration::from_secs(1)).await?;
            Ok(said.contains("1 rates saved").then_some(()))
        })
        .await?;
        admin::screenshot(&browser, "carriers").await?;

        // DID routed to the demo agent, delivered by that carrier.
        admin::open(&browser, "dids").await?;
        admin::fill(&browser, DID_FORM, "number", DID).await?;
        admin::fill(&browser, DID_FORM, "label", "New line").await?;
        admin::select(&browser, DID_FORM, "carrier_id", &carrier_id.to_string()).await?;
        admin::select(&browser, DID_FORM, "route", "agent").await?;
        admin::fill(&browser, DID_FORM, "agent", "demo").await?;
        admin::submit_ok(&browser, DID_FORM).await?;
        browser
            .wait_for(&format!(r#"table#dids tbody tr[data-number="{DID}"]"#), Duration::from_secs(10))
            .await?;
        // More by CSV: one good row, one refused, with the per-row report.
        browser
            .fill(
                "textarea#did-csv",
                "number,label,route,target\n+14155550189,Imported,agent,demo\nnot-a-number,Bad,agent,demo\n",
            )
            .await?;
        browser.click("button#did-import").await?;
        let report = browser
            .wait_for_text("#did-import-report", Duration::from_secs(10))
            .await?;
        ensure!(report.contains("1 created") && report.contains("1 rejected"), "import report: {report:?}");
        ensure!(
            browser.count(r#"#did-import-report tr[data-line="3"]"#).await? == 1,
            "the refused row (line 3) is listed"
        );
        browser
            .wait_for(r#"table#dids tbody tr[data-number="+14155550189"]"#, Duration::from_secs(10))
            .await?;
        admin::screenshot(&browser, "dids").await?;

        // A ring group, for its page.
        admin::open(&browser, "ring-groups").await?;
        admin::fill(&browser, "form#ring-group-form", "name", "Sales team").await?;
        admin::fill(&browser, "form#ring-group-form", "members", "demo").await?;
        admin::submit_ok(&browser, "form#ring-group-form").await?;
        browser.wait_for("table#ring-groups tbody tr[data-id]", Duration::from_secs(10)).await?;
        admin::screenshot(&browser, "ring-groups").await?;

        // Agents, then demo's caller IDs: the new DID as default.
        admin::open(&browser, "agents").await?;
        browser
            .wait_for(r#"table#agents tbody tr[data-username="demo"]"#, Duration::from_secs(10))
            .await?;
        admin::screenshot(&browser, "agents").await?;
        browser
            .click(r##"table#agents tbody tr[data-username="demo"] a[href^="#/caller-ids/"]"##)
            .await?;
        let default = format!(r#"form#caller-id-form input[name="default"][value="{DID}"]"#);
        browser.click(&default).await?;
        browser.click(r#"form#caller-id-form button[type="submit"]"#).await?;
        browser.wait_for("#caller-id-saved", Duration::from_secs(10)).await?;
        let agent_id = browser
            .attr("form#caller-id-form", "data-agent")
            .await?
            .context("the caller-ID form names no agent")?;
        let ids: CallerIds = http::get(
            &gateway.url(&format!("/api/v1/agents/{agent_id}/caller-ids")),
            &cookie,
        )
        .await?
        .json()?;
        ensure!(ids.default.as_deref() == Some(DID), "{ids:?}");
        ensure!(ids.allowed.iter().any(|c| c.number == DID), "{ids:?}");
        admin::screenshot(&browser, "caller-ids").await?;
        admin::sign_out(&browser).await?;
        // The next person starts on the phone, not on the admin's last page.
        let url = browser.client()?.current_url().await?;
        ensure!(url.fragment() == Some("/phone"), "after sign-out: {url}");

        // The agent's next call presents that caller ID.
        calls::sign_in_agent(&browser, &gateway).await?;
        ensure!(browser.count("nav.admin-nav").await? == 0, "an agent sees the admin navigation");
        calls::dial(&browser, "+44 20 7946 0000").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(20)).await?;
        calls::hang_up(&browser).await?;
        let run = carrier.wait(Duration::from_secs(15)).await?;
        run.ensure_success()?;
        let from = run.logged("INVITE From:").unwrap_or_default();
        ensure!(from.contains(DID), "From at the carrier: {from:?}");

        // A call to the new DID rings the agent.
        let mut caller = Sipp::start(SippOptions {
            media: SippMedia::Probe,
            caller: "+14155550123".to_owned(),
            ..SippOptions::caller("uac-wait-bye.xml", gateway.sip_udp, DID)
        })
        .await?;
        browser.wait_for(RINGING, Duration::from_secs(15)).await?;
        let did = browser.wait_for_text("#incoming-did", Duration::from_secs(5)).await?;
        ensure!(did.contains("New line"), "DID shown as {did:?}");
        browser.click("button#answer").await?;
        browser.wait_for(CONNECTED, Duration::from_secs(15)).await?;
        calls::hang_up(&browser).await?;
        caller.wait(Duration::from_secs(15)).await?.ensure_success()?;
        admin::sign_out(&browser).await?;

        // The remaining pages, with the two calls on record.
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "calls").await?;
        e2e::eventually("two call records", Duration::from_secs(10), || async {
            Ok((browser.count("table#calls tbody tr[data-id]").await? >= 2).then_some(()))
        })
        .await?;
        // The outbound call to +44 is priced from the carrier's rates.
        let cost = browser
            .wait_for_text("table#calls tbody tr[data-id] td.call-cost[data-cost]", Duration::from_secs(5))
            .await?;
        ensure!(cost.starts_with("0.0"), "cost shown as {cost:?}");
        let csv = browser.attr("a#calls-csv", "href").await?.unwrap_or_default();
        ensure!(csv.starts_with("/api/v1/calls.csv"), "CSV link {csv:?}");
        // Filtered to inbound calls to the DID: one.
        admin::fill(&browser, "form#calls-filter", "did", DID).await?;
        admin::select(&browser, "form#calls-filter", "direction", "inbound").await?;
        browser.click(r#"form#calls-filter button[type="submit"]"#).await?;
        e2e::eventually("the filtered call records", Duration::from_secs(10), || async {
            Ok((browser.count("table#calls tbody tr[data-id]").await? == 1).then_some(()))
        })
        .await?;
        let csv = browser.attr("a#calls-csv", "href").await?.unwrap_or_default();
        ensure!(csv.contains("direction=inbound") && csv.contains("did=%2B14155550188"), "CSV link {csv:?}");
        admin::screenshot(&browser, "calls").await?;
        admin::open(&browser, "live").await?;
        browser
            .wait_for(r#"#live-status[data-state="live"]"#, Duration::from_secs(10))
            .await?;
        browser
            .wait_for(&format!(r#"table#carrier-channels tbody tr[data-id="{carrier_id}"]"#), Duration::from_secs(10))
            .await?;
        admin::screenshot(&browser, "live").await?;
        admin::open(&browser, "audit").await?;
        browser
            .wait_for(r#"table#audit tbody tr[data-entity="carrier"][data-action="create"]"#, Duration::from_secs(10))
            .await?;
        ensure!(
            !browser.client()?.source().await?.contains(SECRET),
            "the secret is in the audit log"
        );
        admin::screenshot(&browser, "audit").await?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_carrier_the_api_refuses_shows_the_message_at_the_field() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "carriers").await?;
        let f = CARRIER_FORM;
        admin::fill(&browser, f, "name", "Broken").await?;
        admin::fill(&browser, f, "host", "sip.example.com").await?;
        admin::fill(&browser, f, "port", "0").await?;
        match admin::submit(&browser, f).await? {
            Outcome::FieldError { field, message } => {
                ensure!(field == "port", "error on {field}: {message}");
                ensure!(
                    message.contains("between 1 and 65535"),
                    "port error: {message:?}"
                );
            }
            other => anyhow::bail!("expected an error on the port, got {other:?}"),
        }
        let shown = browser
            .wait_for_text(r#".field-error[data-field="port"]"#, Duration::from_secs(5))
            .await?;
        ensure!(shown.contains("between 1 and 65535"), "{shown:?}");
        // Fixing the port moves the error to the next field the API refuses.
        admin::fill(&browser, f, "port", "5060").await?;
        admin::fill(&browser, f, "host", "not a host!").await?;
        match admin::submit(&browser, f).await? {
            Outcome::FieldError { field, .. } => ensure!(field == "host", "error on {field}"),
            other => anyhow::bail!("expected an error on the host, got {other:?}"),
        }
        ensure!(
            browser.count(r#".field-error[data-field="port"]"#).await? == 0,
            "the port's old error is still shown"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn an_agent_gets_no_admin_navigation_and_no_admin_page() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        calls::sign_in_agent(&browser, &gateway).await?;
        ensure!(
            browser.count("nav.admin-nav").await? == 0,
            "the agent sees the admin navigation"
        );
        ensure!(
            browser.count("nav a[data-page]").await? == 0,
            "the agent sees page links"
        );
        browser.goto(&gateway.url("/#/carriers")).await?;
        browser
            .wait_for("#not-allowed", Duration::from_secs(15))
            .await?;
        ensure!(
            browser.count("table#carriers").await? == 0,
            "the carriers table is shown"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn admin_sets_up_the_crm_widget_and_an_api_token_then_revokes_it() -> Result<()> {
    const HOOK_SECRET: &str = "hook-Secret-7731";
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let api = gateway.sign_in("admin", &gateway.admin_password).await?;
    let cookie = [("cookie", api.cookie.as_str())];
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "integrations").await?;

        // The widget: two origins, a webhook and its secret.
        let f = "form#embed-settings-form";
        admin::fill(
            &browser,
            f,
            "allowed_origins",
            "https://crm.example.com\nhttp://127.0.0.1:9000",
        )
        .await?;
        admin::fill(&browser, f, "webhook_url", "https://crm.example.com/events").await?;
        admin::fill(&browser, f, "webhook_secret", HOOK_SECRET).await?;
        let done = admin::submit_ok(&browser, f).await?;
        ensure!(done.contains("Saved"), "settings form says {done:?}");
        let settings: shared::api::EmbedSettings =
            http::get(&gateway.url("/api/v1/embed/settings"), &cookie)
                .await?
                .json()?;
        ensure!(
            settings.allowed_origins == ["https://crm.example.com", "http://127.0.0.1:9000"]
                && settings.webhook_url.as_deref() == Some("https://crm.example.com/events")
                && settings.has_webhook_secret,
            "{settings:?}"
        );
        ensure!(
            !browser.client()?.source().await?.contains(HOOK_SECRET),
            "the webhook secret is shown on the page"
        );
        let snippet = browser
            .wait_for_text("#widget-snippet", Duration::from_secs(5))
            .await?;
        ensure!(
            snippet.contains(&format!("{}/widget.js", gateway.url(""))),
            "snippet: {snippet}"
        );

        // An API token, shown once, that works until it is revoked.
        let t = "form#api-token-form";
        admin::fill(&browser, t, "name", "CRM backend").await?;
        let done = admin::submit_ok(&browser, t).await?;
        ensure!(done.contains("Created"), "token form says {done:?}");
        let token = browser
            .wait_for_text("#new-token", Duration::from_secs(5))
            .await?;
        let token = token.trim().to_owned();
        ensure!(token.starts_with("dlr_"), "token shown as {token:?}");
        let bearer = format!("Bearer {token}");
        let with_token = [("authorization", bearer.as_str())];
        let used = http::get(&gateway.url("/api/v1/embed/settings"), &with_token).await?;
        ensure!(used.status == 200, "the new token got {}", used.status);
        let row = r#"table#api-tokens tbody tr[data-revoked="false"]"#;
        browser.wait_for(row, Duration::from_secs(5)).await?;
        admin::screenshot(&browser, "integrations").await?;
        // Accept the "Revoke?" question.
        browser
            .client()?
            .execute("window.confirm = () => true;", vec![])
            .await?;
        browser.click(&format!("{row} button.row-revoke")).await?;
        browser
            .wait_for(
                r#"table#api-tokens tbody tr[data-revoked="true"]"#,
                Duration::from_secs(5),
            )
            .await?;
        let refused = http::get(&gateway.url("/api/v1/embed/settings"), &with_token).await?;
        ensure!(
            refused.status == 401,
            "the revoked token got {}",
            refused.status
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

#[tokio::test]
async fn a_weak_password_is_refused_in_the_agent_form_with_the_reason() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "agents").await?;
        let f = "form#agent-form";
        admin::fill(&browser, f, "username", "carol").await?;
        admin::fill(&browser, f, "display_name", "Carol Jones").await?;
        admin::fill(&browser, f, "password", "qwerty123456").await?;
        match admin::submit(&browser, f).await? {
            Outcome::FieldError { field, message } => {
                ensure!(field == "password", "error on {field}: {message}");
                ensure!(message.contains("most common passwords"), "{message:?}");
            }
            other => anyhow::bail!("expected an error on the password, got {other:?}"),
        }
        // Long and uncommon, but made of the account's own name.
        admin::fill(&browser, f, "password", "carolcarol12").await?;
        match admin::submit(&browser, f).await? {
            Outcome::FieldError { field, message } => {
                ensure!(field == "password", "error on {field}: {message}");
                ensure!(message.contains("too easy to guess"), "{message:?}");
            }
            other => anyhow::bail!("expected an error on the password, got {other:?}"),
        }
        admin::fill(&browser, f, "password", "Violet kettle drums at noon").await?;
        let done = admin::submit_ok(&browser, f).await?;
        ensure!(done.contains("Created"), "agent form says {done:?}");
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
