//! Steps of the inbound-call tests, on the phone page's DOM: wait for the
//! ringing panel, answer, decline, and what the page shows afterwards.
//!
//! The page's ids: `#incoming-call[data-state="ringing"]` (with
//! `data-call-id`), `#incoming-caller`, `#incoming-did`, `button#answer`,
//! `button#decline`, `#ringtone-blocked`; after the answer the outbound
//! call's `#call-state[data-state=…]` (`answering`, `connected`, `held`,
//! `ended`) and controls; `#call-history li[data-direction][data-missed]`.

use std::time::Duration;

use anyhow::Result;

use crate::Browser;

pub const RINGING: &str = r#"#incoming-call[data-state="ringing"]"#;
pub const CONNECTED: &str = r#"#call-state[data-state="connected"]"#;
pub const ENDED: &str = r#"#call-state[data-state="ended"]"#;
/// A missed inbound call in the history list.
pub const MISSED: &str = r#"#call-history li[data-direction="inbound"][data-missed="true"]"#;

/// What the ringing panel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingView {
    /// `#incoming-caller`: "Name (+number)" or the number.
    pub caller: String,
    /// `#incoming-did`: "Label (+DID)", or empty when the INVITE had none.
    pub did: String,
    /// The SIP Call-ID of the ringing call (`data-call-id`).
    pub call_id: String,
}

/// Waits for the ringing panel and reads it.
pub async fn wait_for_incoming(browser: &Browser, timeout: Duration) -> Result<IncomingView> {
    browser.wait_for(RINGING, timeout).await?;
    let caller = browser
        .wait_for_text("#incoming-caller", Duration::from_secs(5))
        .await?;
    let did = if browser.count("#incoming-did").await? > 0 {
        browser
            .wait_for_text("#incoming-did", Duration::from_secs(5))
            .await?
    } else {
        String::new()
    };
    let call_id = browser
        .attr("#incoming-call", "data-call-id")
        .await?
        .unwrap_or_default();
    Ok(IncomingView {
        caller,
        did,
        call_id,
    })
}

/// Presses Answer.
pub async fn answer(browser: &Browser) -> Result<()> {
    browser.click("button#answer").await
}

/// Presses Decline (the gateway gets 486 Busy Here).
pub async fn decline(browser: &Browser) -> Result<()> {
    browser.click("button#decline").await
}

/// Waits until the answered call shows as connected.
pub async fn wait_connected(browser: &Browser, timeout: Duration) -> Result<()> {
    browser.wait_for(CONNECTED, timeout).await.map(|_| ())
}

/// Waits until the call is over and returns `#call-end-reason` (e.g.
/// "Missed call: the caller hung up", "Answered on another phone").
pub async fn wait_ended(browser: &Browser, timeout: Duration) -> Result<String> {
    browser.wait_for(ENDED, timeout).await?;
    browser
        .wait_for_text("#call-end-reason", Duration::from_secs(5))
        .await
}

/// How many missed inbound calls the history list shows now.
pub async fn missed_count(browser: &Browser) -> Result<usize> {
    browser.count(MISSED).await
}
