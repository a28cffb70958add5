//! Destination policy end to end (issue 14, item 3): a US-only agent's
//! third-party phone (JsSIP in Chromium, which checks nothing itself)
//! dials premium, Caribbean, listed and Canadian numbers; the gateway
//! answers 403 with the reason, and the carrier (SIPp) never sees those
//! INVITEs. The admin then allows Canada through the API and the same call
//! reaches the carrier at once, without a restart or a new sign-in. One
//! gateway, one browser and one SIPp for all the cases. Then the admin
//! page: role and agent policies and the prefix list saved through the
//! forms, errors on their fields, screenshots as
//! `admin-dialing-policy*.png`.

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use e2e::admin::{self, Outcome};
use e2e::jssip::JsSip;
use e2e::sipp::{Sipp, SippOptions};
use e2e::{Browser, Gateway, calls, http};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

async fn api(
    gateway: &Gateway,
    cookie: &str,
    method: &str,
    path: &str,
    body: Value,
) -> Result<Value> {
    let method: hyper::Method = method.parse()?;
    let response = http::request(
        method.clone(),
        &gateway.url(path),
        &[("cookie", cookie), ("content-type", "application/json")],
        (method != hyper::Method::GET).then(|| body.to_string().into_bytes()),
    )
    .await?;
    ensure!(
        response.status == 200,
        "{method} {path}: {} {}",
        response.status,
        response.text()
    );
    response.json()
}

/// Dials `number` and expects a 403 whose reason says `words`.
async fn refused(phone: &JsSip, number: &str, words: &str) -> Result<()> {
    phone.call(number).await?;
    let state = phone.wait_state("failed", WAIT).await?;
    ensure!(
        state.status == Some(403),
        "{number}: expected 403, got {state:?}"
    );
    let reason = state.reason.clone().unwrap_or_default();
    ensure!(
        reason.starts_with("Forbidden (") && reason.contains(words),
        "{number}: reason {reason:?} does not say {words:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_us_only_agent_is_refused_abroad_and_premium_until_the_admin_allows_canada() -> Result<()>
{
    let mut gateway = Gateway::start().await?;
    // A busy callee: the one call that reaches it ends at once, and SIPp
    // exits after it (`-m 1`), its trace holding every INVITE it got.
    let mut sipp = Sipp::start(SippOptions::carrier("uas-busy.xml")).await?;
    calls::add_carrier(&gateway, "SIPp", sipp.sip_addr, |_| {}).await?;
    let admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let session = gateway.sign_in("demo", &gateway.demo_password).await?;
    let credential = session.info.sip.clone().context("demo's SIP credential")?;
    let agent_policy = format!("/api/v1/agents/{}/dialing-policy", session.info.account.id);
    let browser = Browser::start().await?;
    let result = async {
        // After sign-in: the change must reach the SIP core by itself.
        let set = api(
            &gateway,
            &admin.cookie,
            "PUT",
            &agent_policy,
            json!({"allowed_countries": ["US"]}),
        )
        .await?;
        ensure!(set["policy"]["block_premium"] == true, "{set}");
        // A listed prefix: the admin's edit of the high-risk list (the
        // shipped list plus one US range marked premium).
        let mut list = api(
            &gateway,
            &admin.cookie,
            "GET",
            "/api/v1/dialing-policy/prefixes",
            json!(null),
        )
        .await?;
        let entries = list["entries"].as_array_mut().context("entries")?;
        entries.push(
            json!({"prefix": "+1 212 555 09", "class": "premium", "note": "e2e premium range"}),
        );
        let body = json!({"entries": entries});
        list = api(
            &gateway,
            &admin.cookie,
            "PUT",
            "/api/v1/dialing-policy/prefixes",
            body,
        )
        .await?;
        ensure!(list["edited"] == true, "{list}");

        browser.goto(&gateway.url("/healthz")).await?;
        let phone = JsSip::start(browser.client()?, &gateway.ws_url(), &credential).await?;
        phone.wait_state("registered", WAIT).await?;
        refused(
            &phone,
            "+19005550100",
            "Calls to premium-rate numbers (+1 900) are blocked",
        )
        .await?;
        refused(
            &phone,
            "+18765550100",
            "Calls to Jamaica (+1 876) are not allowed",
        )
        .await?;
        refused(
            &phone,
            "+12129765555",
            "Calls to premium-rate numbers (+1 212 976) are blocked",
        )
        .await?;
        refused(
            &phone,
            "+12125550900",
            "Calls to premium-rate numbers (+1 212 555 09) are blocked",
        )
        .await?;
        refused(
            &phone,
            "+14165550100",
            "Calls to Canada (+1 416) are not allowed",
        )
        .await?;
        ensure!(
            sipp.received_request("INVITE").is_none(),
            "the carrier got an INVITE for a refused number:\n{}",
            sipp.messages()
        );

        // Canada allowed: the same call goes to the carrier.
        api(
            &gateway,
            &admin.cookie,
            "PUT",
            &agent_policy,
            json!({"allowed_countries": ["US", "CA"]}),
        )
        .await?;
        phone.call("+14165550100").await?;
        let state = phone.wait_state("failed", WAIT).await?;
        ensure!(state.status == Some(486), "the carrier's busy: {state:?}");
        let run = sipp.wait(WAIT).await?;
        run.ensure_success()?;
        let invites: Vec<String> = run
            .received()
            .into_iter()
            .filter(|m| m.starts_with("INVITE "))
            .collect();
        // One call, so one INVITE (SIPp's trace also holds retransmissions,
        // none expected on loopback).
        ensure!(
            invites.len() == 1 && invites[0].starts_with("INVITE sip:+14165550100@"),
            "INVITEs at the carrier: {invites:#?}"
        );
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}

/// Puts `text` in the prefix list's text area at once (typing a list of
/// this size key by key takes WebDriver many seconds), as an `input` event.
async fn set_lines(browser: &Browser, text: &str) -> Result<()> {
    browser
        .client()?
        .execute(
            r#"const area = document.querySelector('form#prefix-list-form textarea[name="entries"]');
               area.value = arguments[0];
               area.dispatchEvent(new Event('input', { bubbles: true }));"#,
            vec![json!(text)],
        )
        .await?;
    Ok(())
}

/// Submits `form` and expects the gateway's error on `field`, saying `words`.
async fn field_error(browser: &Browser, form: &str, field: &str, words: &str) -> Result<()> {
    match admin::submit(browser, form).await? {
        Outcome::FieldError { field: f, message } if f == field && message.contains(words) => {
            Ok(())
        }
        other => bail!("`{form}`: expected an error on {field} saying {words:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn the_dialing_policy_page_saves_role_and_agent_policies_and_shows_errors() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    gateway.require_client()?;
    let api_admin = gateway.sign_in("admin", &gateway.admin_password).await?;
    let demo = gateway.sign_in("demo", &gateway.demo_password).await?;
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "dialing-policy").await?;
        let role = "form#role-policy-form";
        browser
            .wait_for(&format!(r#"{role}[data-stored="false"]"#), WAIT)
            .await?;
        admin::fill(&browser, role, "allowed_countries", "US, XX").await?;
        field_error(
            &browser,
            role,
            "allowed_countries",
            "`XX` is not a country code",
        )
        .await?;
        admin::fill(&browser, role, "allowed_countries", "us, CA").await?;
        admin::fill(&browser, role, "block_prefixes", "+1 212 555").await?;
        let done = admin::submit_ok(&browser, role).await?;
        ensure!(done.contains("Saved"), "{done:?}");
        let stored = api(
            &gateway,
            &api_admin.cookie,
            "GET",
            "/api/v1/dialing-policy/roles/agent",
            json!(null),
        )
        .await?;
        ensure!(
            stored["policy"]["allowed_countries"] == json!(["US", "CA"])
                && stored["policy"]["block_prefixes"] == json!(["+1212555"]),
            "{stored}"
        );
        admin::screenshot(&browser, "dialing-policy").await?;

        // The demo agent's own: premium allowed, and a malformed prefix
        // refused on its field.
        let page = r#"main[data-page="dialing-policy"]"#;
        admin::select(&browser, page, "agent", &demo.info.account.id.to_string()).await?;
        let own = "form#agent-policy-form";
        browser
            .wait_for(&format!(r#"{own}[data-stored="false"]"#), WAIT)
            .await?;
        admin::fill(&browser, own, "allowed_countries", "US").await?;
        admin::check(&browser, own, "block_premium", false).await?;
        admin::fill(&browser, own, "block_prefixes", "44 9").await?;
        field_error(&browser, own, "block_prefixes", "must start with '+'").await?;
        admin::fill(&browser, own, "block_prefixes", "+44 9").await?;
        admin::submit_ok(&browser, own).await?;
        browser
            .wait_for(&format!(r#"{own}[data-stored="true"]"#), WAIT)
            .await?;
        let path = format!("/api/v1/agents/{}/dialing-policy", demo.info.account.id);
        let stored = api(&gateway, &api_admin.cookie, "GET", &path, json!(null)).await?;
        ensure!(
            stored["policy"]["allowed_countries"] == json!(["US"])
                && stored["policy"]["block_premium"] == false
                && stored["policy"]["block_prefixes"] == json!(["+449"]),
            "{stored}"
        );
        admin::screenshot(&browser, "dialing-policy-agent").await?;

        // The prefix list: a line that is not `prefix | class | note` is
        // refused in the page, a malformed prefix by the gateway; a good
        // line is saved, and the shipped list comes back on request.
        let list = "form#prefix-list-form";
        browser
            .wait_for(&format!(r#"{list}[data-edited="false"]"#), WAIT)
            .await?;
        let shipped = browser
            .client()?
            .execute(r#"return document.querySelector('form#prefix-list-form textarea[name="entries"]').value;"#, vec![])
            .await?;
        let shipped = shipped.as_str().context("the list's text")?.to_owned();
        ensure!(shipped.contains("+1 876 | high_risk | Jamaica"), "{shipped}");
        set_lines(&browser, &format!("{shipped}\n+1 212 555 09 premium")).await?;
        field_error(&browser, list, "entries", "write it as prefix | class | note").await?;
        set_lines(&browser, &format!("{shipped}\n1 212 555 09 | premium | test")).await?;
        field_error(&browser, list, "entries", "must start with '+'").await?;
        set_lines(&browser, &format!("{shipped}\n+1 212 555 09 | premium | test")).await?;
        admin::submit_ok(&browser, list).await?;
        browser
            .wait_for(&format!(r#"{list}[data-edited="true"]"#), WAIT)
            .await?;
        let stored = api(&gateway, &api_admin.cookie, "GET", "/api/v1/dialing-policy/prefixes", json!(null)).await?;
        ensure!(
            stored["entries"].as_array().is_some_and(|e| e.iter().any(|e| e["prefix"] == "+121255509" && e["class"] == "premium")),
            "{stored}"
        );
        // Below the fold: scrolled to, not to the top as admin::screenshot does.
        browser
            .client()?
            .execute("document.querySelector('.prefix-list-card').scrollIntoView();", vec![])
            .await?;
        let png = browser.client()?.screenshot().await?;
        let dir = e2e::artifacts_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("admin-dialing-policy-prefixes.png"), png)?;
        browser.client()?.execute("window.confirm = () => true;", vec![]).await?;
        browser.click("button#prefix-list-shipped").await?;
        browser
            .wait_for(&format!(r#"{list}[data-edited="false"]"#), WAIT)
            .await?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
