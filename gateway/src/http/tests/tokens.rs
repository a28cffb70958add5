//! `/api/v1/tokens`: Bearer tokens, hashed at rest, shown once, revocable.

use serde_json::json;

use super::*;

#[tokio::test]
async fn bearer_tokens_act_as_their_account_until_revoked() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, created) = app
        .json(
            "POST",
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "CRM"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("dlr_") && token.len() == 68, "{token}");
    assert_eq!(created["api_token"]["account"], "admin");
    assert_eq!(
        created["api_token"]["last_used_at"],
        serde_json::Value::Null
    );

    // Only the SHA-256 is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, vec![crate::auth::token_hash(&token)]);

    let bearer = format!("Bearer {token}");
    let (status, _, body) = app
        .raw("GET", "/api/v1/agents", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    // The listing never shows the token again.
    let (status, list) = app.json("GET", "/api/v1/tokens", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains(&token[4..]));
    assert!(list["items"][0]["last_used_at"].is_i64(), "{list}");

    for wrong in [
        "Bearer dlr_0000",
        "Bearer nope",
        "Basic YWRtaW46eA==",
        "Bearer",
    ] {
        let (status, _, _) = app
            .raw("GET", "/api/v1/agents", &[("authorization", wrong)], None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong}");
    }

    let uri = format!("/api/v1/tokens/{}", created["api_token"]["id"]);
    let (status, _) = app.json("DELETE", &uri, &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = app
        .raw("GET", "/api/v1/agents", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, list) = app.json("GET", "/api/v1/tokens", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["revoked"], true);
}

#[tokio::test]
async fn a_token_has_its_accounts_role() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, json) = app
        .json(
            "POST",
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "x", "account": "nobody"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["field"], "account");
    let (status, json) = app
        .json("POST", "/api/v1/tokens", &admin, Some(json!({"name": ""})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["field"], "name");
    let (status, created) = app
        .json(
            "POST",
            "/api/v1/tokens",
            &admin,
            Some(json!({"name": "agent", "account": "demo"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let bearer = format!("Bearer {}", created["token"].as_str().unwrap());
    let (status, _, _) = app
        .raw("GET", "/api/v1/agents", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .raw("GET", "/api/v1/calls", &[("authorization", &bearer)], None)
        .await;
    assert_eq!(status, StatusCode::OK);
}
