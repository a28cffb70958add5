//! `/api/v1/embed/*`: tokens minted by a CRM backend, traded by the iframe
//! for a bearer session, refused when expired, forged or from elsewhere.

use serde_json::json;

use super::*;

async fn allow(app: &TestApp, admin: &str, origins: serde_json::Value) -> serde_json::Value {
    let (status, settings) = app
        .json(
            "PUT",
            "/api/v1/embed/settings",
            admin,
            Some(
                json!({"allowed_origins": origins, "webhook_url": "http://127.0.0.1:9/hook",
                        "webhook_secret": "s3cret-value"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    settings
}

async fn mint(app: &TestApp, admin: &str, ttl: u32) -> String {
    let (status, minted) = app
        .json(
            "POST",
            "/api/v1/embed/tokens",
            admin,
            Some(json!({"agent": "demo", "ttl_s": ttl})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    minted["token"].as_str().unwrap().to_owned()
}

async fn trade(app: &TestApp, token: &str, origin: &str) -> (StatusCode, serde_json::Value) {
    let body = json!({"token": token, "origin": origin}).to_string();
    let (status, _, json) = app
        .call("POST", "/api/v1/embed/session", None, Some(&body))
        .await;
    (status, json)
}

#[tokio::test]
async fn a_minted_token_signs_the_agent_into_the_embedded_phone() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let settings = allow(
        &app,
        &admin,
        json!(["http://127.0.0.1:8090/", "https://CRM.example"]),
    )
    .await;
    assert_eq!(
        settings,
        json!({"allowed_origins": ["http://127.0.0.1:8090", "https://crm.example"],
               "webhook_url": "http://127.0.0.1:9/hook", "has_webhook_secret": true})
    );
    // Agents may neither mint tokens nor read the settings.
    let (status, _) = app
        .json(
            "POST",
            "/api/v1/embed/tokens",
            &agent,
            Some(json!({"agent": "demo"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .json("GET", "/api/v1/embed/settings", &agent, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The public config shows only the origins.
    let (status, _, config) = app.call("GET", "/api/v1/embed/config", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        config,
        json!({"allowed_origins": ["http://127.0.0.1:8090", "https://crm.example"]})
    );

    let token = mint(&app, &admin, 300).await;
    assert!(token.starts_with("dle_"), "{token}");
    let (status, session) = trade(&app, &token, "http://127.0.0.1:8090").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["session"]["account"]["username"], "demo");
    assert!(session["session"]["sip"]["password"].is_string());
    let bearer = format!("Bearer {}", session["session_token"].as_str().unwrap());
    assert!(bearer.starts_with("Bearer dls_"));
    let (status, _, body) = app
        .raw(
            "GET",
            "/api/v1/calls?limit=1",
            &[("authorization", &bearer)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    // The bearer session is an agent's: no administration.
    let (status, _, _) = app
        .raw("GET", "/api/v1/agents", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Secrets never come back: not in the settings, not in the audit log.
    let (_, settings) = app
        .json("GET", "/api/v1/embed/settings", &admin, None)
        .await;
    assert!(!settings.to_string().contains("s3cret"));
    let (_, audit) = app.json("GET", "/api/v1/audit", &admin, None).await;
    let audit = audit.to_string();
    assert!(audit.contains("embed_settings") && audit.contains("embed_token"));
    assert!(!audit.contains("s3cret") && !audit.contains(&token[4..]));
}

#[tokio::test]
async fn expired_forged_and_foreign_tokens_are_refused_with_their_codes() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    allow(&app, &admin, json!(["http://127.0.0.1:8090"])).await;
    let token = mint(&app, &admin, 300).await;

    let (status, error) = trade(&app, &token, "http://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error["code"], "origin_not_allowed");

    // The last MAC character changed (to another one: it may be `0` already).
    let last = if token.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let (status, error) = trade(&app, &forged, "http://127.0.0.1:8090").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "invalid_token");

    let short = mint(&app, &admin, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, error) = trade(&app, &short, "http://127.0.0.1:8090").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["code"], "token_expired");

    for (body, field) in [
        (json!({"agent": "demo", "ttl_s": 0}), "ttl_s"),
        (json!({"agent": "demo", "ttl_s": 3601}), "ttl_s"),
        (json!({"agent": "nobody"}), "agent"),
        (json!({"agent": "admin"}), "agent"),
    ] {
        let (status, error) = app
            .json("POST", "/api/v1/embed/tokens", &admin, Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["field"], field);
    }
    let (status, error) = app
        .json(
            "PUT",
            "/api/v1/embed/settings",
            &admin,
            Some(json!({"allowed_origins": ["https://crm.example/path"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["field"], "allowed_origins");
}
