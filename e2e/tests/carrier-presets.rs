//! The carrier form's presets in Chromium: choosing Twilio fills host,
//! port, transport, registration, Twilio's signalling ranges, number format,
//! where the DID is and codecs, with a link to Twilio's page and the date
//! the data was checked; a region picks that region's host; Vonage writes
//! numbers without the +; every field stays editable and the carrier
//! saves. Its host (edited to a name the test's DNS server does not know)
//! then shows as down, "Host does not resolve", in the carrier list. The
//! form with the preset chosen is saved as `admin-carrier-preset.png`.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use e2e::admin;
use e2e::dnsmasq::Dnsmasq;
use e2e::gateway::GatewayOptions;
use e2e::{Browser, Gateway};

const F: &str = "form#carrier-form";

/// The current value of `form`'s control named `name` (a property, not
/// the attribute: what the page holds now).
async fn value(browser: &Browser, name: &str) -> Result<String> {
    let script = format!(
        "return document.querySelector('{F} [name=\"{name}\"]').{}",
        if name == "register" {
            "checked.toString()"
        } else {
            "value"
        }
    );
    let v = browser
        .client()?
        .execute(&script, vec![])
        .await
        .with_context(|| format!("reading {name}"))?;
    v.as_str()
        .map(str::to_owned)
        .with_context(|| format!("{name} has no value: {v}"))
}

async fn choose(browser: &Browser, css: &str, option: &str) -> Result<()> {
    browser
        .wait_for(css, Duration::from_secs(5))
        .await?
        .select_by_value(option)
        .await
        .with_context(|| format!("choosing {option} in {css}"))
}

#[tokio::test]
async fn choosing_a_preset_fills_the_carrier_form() -> Result<()> {
    let dns = Dnsmasq::start(&[], 30).await?;
    let mut gateway = Gateway::start_with(GatewayOptions {
        args: vec!["--dns-server".to_owned(), dns.addr.to_string()],
        ..Default::default()
    })
    .await?;
    gateway.require_client()?;
    let browser = Browser::start().await?;
    let result = async {
        admin::sign_in(&browser, &gateway, "admin", &gateway.admin_password).await?;
        admin::open(&browser, "carriers").await?;

        choose(&browser, "select#carrier-preset", "twilio").await?;
        browser
            .wait_for(
                r#"#carrier-preset-info[data-preset="twilio"]"#,
                Duration::from_secs(5),
            )
            .await?;
        ensure!(value(&browser, "host").await? == "{trunk}.pstn.twilio.com");
        ensure!(value(&browser, "port").await? == "5060");
        ensure!(value(&browser, "transport").await? == "udp");
        ensure!(value(&browser, "register").await? == "false");
        ensure!(value(&browser, "number_format").await? == "e164");
        ensure!(value(&browser, "inbound_number_from").await? == "request_uri");
        ensure!(value(&browser, "codecs").await? == "PCMU, PCMA");
        let sources = value(&browser, "inbound_sources").await?;
        ensure!(
            sources.lines().next() == Some("54.172.60.0/30") && sources.lines().count() >= 8,
            "inbound sources {sources:?}"
        );
        let link = browser.attr("a#carrier-preset-link", "href").await?;
        ensure!(
            link.as_deref() == Some("https://www.twilio.com/docs/sip-trunking"),
            "link {link:?}"
        );
        let info = browser
            .wait_for_text("#carrier-preset-info", Duration::from_secs(5))
            .await?;
        ensure!(info.contains("checked 2026-12"), "{info}");
        ensure!(info.contains("Check on their page"), "{info}");

        // A region gives that region's host.
        choose(&browser, "select#carrier-preset-region", "3").await?;
        e2e::eventually("the Dublin host", Duration::from_secs(5), || async {
            Ok((value(&browser, "host").await? == "{trunk}.pstn.dublin.twilio.com").then_some(()))
        })
        .await?;
        admin::fill(&browser, F, "name", "Twilio Dublin").await?;
        admin::screenshot(&browser, "carrier-preset").await?;
        // And the fields it filled, further down the form.
        browser
            .client()?
            .execute(
                "document.querySelector('form#carrier-form [name=\"host\"]').scrollIntoView({block: 'start'})",
                vec![],
            )
            .await?;
        let png = browser.client()?.screenshot().await?;
        let dir = e2e::artifacts_dir();
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("admin-carrier-preset-fields.png"), png)?;

        // Another carrier: its own number format and host.
        choose(&browser, "select#carrier-preset", "vonage").await?;
        e2e::eventually("Vonage's values", Duration::from_secs(5), || async {
            Ok(
                (value(&browser, "number_format").await? == "e164_without_plus"
                    && value(&browser, "host").await? == "sip.nexmo.com")
                    .then_some(()),
            )
        })
        .await?;
        ensure!(
            value(&browser, "name").await? == "Twilio Dublin",
            "the name was overwritten"
        );

        // Still editable: a host of our own, fewer sources; the carrier saves.
        admin::fill(&browser, F, "name", "Edited preset").await?;
        admin::fill(&browser, F, "host", "gone.carrier.test").await?;
        admin::fill(&browser, F, "inbound_sources", "192.0.2.10").await?;
        admin::check(&browser, F, "qualify", false).await?;
        let done = admin::submit_ok(&browser, F).await?;
        ensure!(done.contains("Created"), "carrier form says {done:?}");
        let id = admin::editing_id(&browser, F).await?;
        let cell = format!(r#"table#carriers tbody tr[data-id="{id}"] td.trunk-state"#);
        let state = e2e::eventually(
            "the carrier shown down",
            Duration::from_secs(10),
            || async {
                let state = browser.attr(&cell, "data-state").await?;
                Ok((state.as_deref() == Some("down")).then_some(state))
            },
        )
        .await?;
        ensure!(state.as_deref() == Some("down"));
        let text = browser.wait_for_text(&cell, Duration::from_secs(5)).await?;
        ensure!(text == "Host does not resolve", "status cell {text:?}");
        browser
            .click(&format!(
                r#"table#carriers tbody tr[data-id="{id}"] button.row-edit"#
            ))
            .await?;
        let status = browser
            .wait_for_text("#carrier-status", Duration::from_secs(5))
            .await?;
        ensure!(
            status.contains("Host does not resolve") && status.contains("gone.carrier.test"),
            "{status}"
        );
        // The preset was a way to fill in, not a setting of the carrier.
        let picked = browser
            .client()?
            .execute("return document.querySelector('select#carrier-preset').value", vec![])
            .await?;
        ensure!(picked == "", "the preset choice stayed: {picked}");
        admin::screenshot(&browser, "carrier-unresolved").await?;
        gateway.check_alive()
    }
    .await;
    browser.finish(result).await
}
