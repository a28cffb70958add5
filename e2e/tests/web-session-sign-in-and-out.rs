//! The REST API's web session: sign-in issues a session cookie and a SIP
//! credential, a wrong password or an unknown user get the same 401, and
//! sign-out ends the session. None of the secrets reach the log.

use anyhow::{Result, ensure};
use e2e::Gateway;
use e2e::http;
use shared::api::{ApiError, Role, SessionInfo};

#[tokio::test]
async fn sign_in_read_the_session_and_sign_out() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let health = gateway.health().await?;
    ensure!(!health.version.is_empty(), "/healthz without a version");

    let response = gateway.post_session("demo", &gateway.demo_password).await?;
    ensure!(
        response.status == 200,
        "sign-in answered {}: {}",
        response.status,
        response.text()
    );
    let info: SessionInfo = response.json()?;
    ensure!(info.account.username == "demo", "{info:?}");
    ensure!(info.account.display_name == "Demo Agent", "{info:?}");
    ensure!(info.account.role == Role::Agent, "{info:?}");
    let Some(sip) = &info.sip else {
        anyhow::bail!("the demo agent got no SIP credential: {info:?}");
    };
    ensure!(sip.aor.starts_with("sip:demo@"), "aor {:?}", sip.aor);
    ensure!(!sip.realm.is_empty() && !sip.username.is_empty(), "{sip:?}");
    ensure!(
        sip.password != gateway.demo_password,
        "the SIP credential is the web password"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    ensure!(
        sip.expires_at > now,
        "the SIP credential has expired already: {sip:?}"
    );
    let set_cookie = response.set_cookie_headers();
    ensure!(
        set_cookie
            .iter()
            .any(|c| c.to_ascii_lowercase().contains("httponly")),
        "the session cookie is not httpOnly: {set_cookie:?}"
    );
    let cookie = response
        .set_cookies()
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("sign-in set no cookie"))?;

    let current = http::get(&gateway.url("/api/v1/session"), &[("cookie", &cookie)]).await?;
    ensure!(
        current.status == 200,
        "GET /api/v1/session with the cookie answered {}: {}",
        current.status,
        current.text()
    );
    let again: SessionInfo = current.json()?;
    ensure!(again.account == info.account, "{again:?} vs {info:?}");

    let anonymous = http::get(&gateway.url("/api/v1/session"), &[]).await?;
    ensure!(
        anonymous.status == 401,
        "GET /api/v1/session without a cookie answered {}",
        anonymous.status
    );

    let out = http::delete(&gateway.url("/api/v1/session"), &[("cookie", &cookie)]).await?;
    ensure!(
        (200..300).contains(&out.status),
        "sign-out answered {}: {}",
        out.status,
        out.text()
    );
    let after = http::get(&gateway.url("/api/v1/session"), &[("cookie", &cookie)]).await?;
    ensure!(
        after.status == 401,
        "the session still works after sign-out: {}",
        after.status
    );

    // Logs never contain secrets.
    let log = gateway.log();
    let token = cookie.split_once('=').map_or(cookie.as_str(), |(_, v)| v);
    for (what, secret) in [
        ("the web password", gateway.demo_password.as_str()),
        ("the SIP password", sip.password.as_str()),
        ("the session token", token),
    ] {
        ensure!(!log.contains(secret), "{what} appears in the gateway log");
    }
    gateway.check_alive()
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let mut bodies = Vec::new();
    for (user, password) in [
        ("demo", format!("{}-wrong", gateway.demo_password)),
        ("nobody-here", gateway.demo_password.clone()),
    ] {
        let response = gateway.post_session(user, &password).await?;
        ensure!(
            response.status == 401,
            "sign-in as {user} with a wrong password answered {}: {}",
            response.status,
            response.text()
        );
        let error: ApiError = response.json()?;
        ensure!(error.code == "invalid_credentials", "{error:?}");
        ensure!(
            response.set_cookies().is_empty(),
            "a refused sign-in set a cookie"
        );
        bodies.push(error);
    }
    ensure!(
        bodies[0] == bodies[1],
        "a wrong password and an unknown user are told apart: {bodies:?}"
    );
    gateway.check_alive()
}
