//! Steps of the admin-page tests: sign in through the page, open a page
//! from the navigation, fill and submit its forms, and save a screenshot
//! of each page (`admin-<page>.png`) to the artifacts directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::Locator;

use crate::{Browser, Gateway};

const WAIT: Duration = Duration::from_secs(15);

/// Signs `username` in through the page and waits for the signed-in top
/// bar (`button#sign-out`).
pub async fn sign_in(
    browser: &Browser,
    gateway: &Gateway,
    username: &str,
    password: &str,
) -> Result<()> {
    browser.goto(&gateway.url("/")).await?;
    browser
        .wait_for("input#username", Duration::from_secs(30))
        .await?;
    browser.fill("input#username", username).await?;
    browser.fill("input#password", password).await?;
    browser.click("button#sign-in").await?;
    browser.wait_for("button#sign-out", WAIT).await?;
    Ok(())
}

/// Presses "Sign out" and waits for the sign-in form.
pub async fn sign_out(browser: &Browser) -> Result<()> {
    browser.click("button#sign-out").await?;
    browser.wait_for("input#username", WAIT).await?;
    Ok(())
}

/// Opens a page from the top navigation (`nav a[data-page=…]`, opening
/// the "Settings" menu first when the page is in it) and waits for it.
pub async fn open(browser: &Browser, page: &str) -> Result<()> {
    let menu = format!(r#"nav.admin-nav details:not([open]):has(a[data-page="{page}"]) > summary"#);
    if browser.count(&menu).await? > 0 {
        browser.click(&menu).await?;
    }
    browser
        .click(&format!(r#"nav.admin-nav a[data-page="{page}"]"#))
        .await?;
    browser
        .wait_for(&format!(r#"main.admin-page[data-page="{page}"]"#), WAIT)
        .await?;
    Ok(())
}

/// Saves a PNG of the page as `admin-<name>.png` in the artifacts directory.
pub async fn screenshot(browser: &Browser, name: &str) -> Result<PathBuf> {
    let dir = crate::artifacts_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("admin-{name}.png"));
    // The page and its form from the top, as a person opening it sees them.
    browser
        .client()?
        .execute(
            "window.scrollTo(0, 0); \
             document.querySelectorAll('.admin-form-card').forEach((e) => { e.scrollTop = 0; });",
            vec![],
        )
        .await
        .context("scrolling to the top")?;
    let png = browser
        .client()?
        .screenshot()
        .await
        .with_context(|| format!("taking the screenshot of {name}"))?;
    std::fs::write(&path, png).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Types `value` into `form`'s control named `name` (after clearing it).
pub async fn fill(browser: &Browser, form: &str, name: &str, value: &str) -> Result<()> {
    browser
        .fill(&format!(r#"{form} [name="{name}"]"#), value)
        .await
}

/// Picks the option with `value` in `form`'s select named `name`.
pub async fn select(browser: &Browser, form: &str, name: &str, value: &str) -> Result<()> {
    let css = format!(r#"{form} select[name="{name}"]"#);
    let element = browser.wait_for(&css, WAIT).await?;
    element
        .select_by_value(value)
        .await
        .with_context(|| format!("choosing {value:?} in `{css}`"))
}

/// Ticks or unticks `form`'s check box named `name`.
pub async fn check(browser: &Browser, form: &str, name: &str, on: bool) -> Result<()> {
    let css = format!(r#"{form} input[type="checkbox"][name="{name}"]"#);
    let element = browser.wait_for(&css, WAIT).await?;
    if element.is_selected().await? != on {
        element
            .click()
            .await
            .with_context(|| format!("clicking `{css}`"))?;
    }
    Ok(())
}

/// What a submitted form showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `.form-done`'s text ("Created.", "Saved.").
    Done(String),
    /// A `.field-error`: its field and message.
    FieldError { field: String, message: String },
    /// A `.form-error` no field shows.
    Error(String),
}

/// Submits `form` and waits for what it shows: done, a field's error or a
/// general one.
pub async fn submit(browser: &Browser, form: &str) -> Result<Outcome> {
    browser
        .click(&format!(r#"{form} button[type="submit"]"#))
        .await?;
    let client = browser.client()?;
    crate::eventually(&format!("`{form}` to answer"), WAIT, || async {
        let busy = client
            .find_all(Locator::Css(&format!(
                r#"{form} button[type="submit"][disabled]"#
            )))
            .await?;
        if !busy.is_empty() {
            return Ok(None);
        }
        if let Some(e) = client
            .find_all(Locator::Css(&format!("{form} .field-error")))
            .await?
            .into_iter()
            .next()
        {
            let field = e.attr("data-field").await?.unwrap_or_default();
            return Ok(Some(Outcome::FieldError {
                field,
                message: e.text().await?,
            }));
        }
        if let Some(e) = client
            .find_all(Locator::Css(&format!("{form} .form-error")))
            .await?
            .into_iter()
            .next()
        {
            return Ok(Some(Outcome::Error(e.text().await?)));
        }
        if let Some(e) = client
            .find_all(Locator::Css(&format!("{form} .form-done")))
            .await?
            .into_iter()
            .next()
        {
            return Ok(Some(Outcome::Done(e.text().await?)));
        }
        Ok(None)
    })
    .await
}

/// Submits `form` and fails unless it says done.
pub async fn submit_ok(browser: &Browser, form: &str) -> Result<String> {
    match submit(browser, form).await? {
        Outcome::Done(text) => Ok(text),
        other => bail!("`{form}` was not saved: {other:?}"),
    }
}

/// The id of the item `form` now edits (`data-editing`, set once saved).
pub async fn editing_id(browser: &Browser, form: &str) -> Result<i64> {
    let value = browser
        .attr(form, "data-editing")
        .await?
        .with_context(|| format!("`{form}` edits nothing"))?;
    value
        .parse()
        .with_context(|| format!("`{form}` data-editing={value:?}"))
}
