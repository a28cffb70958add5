//! `/api/v1/security/bans` and the 429 a banned source gets.

use serde_json::json;

use super::*;

#[tokio::test]
async fn an_admin_bans_lists_and_lifts_and_a_banned_source_gets_429() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, empty) = app.json("GET", "/api/v1/security/bans", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!([]));

    let (status, ban) = app
        .json(
            "POST",
            "/api/v1/security/bans",
            &admin,
            Some(json!({"ip": "203.0.113.7", "detail": "seen in the logs"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ban}");
    assert_eq!(ban["reason"], "manual");
    assert_eq!(ban["times"], 1);
    assert_eq!(
        ban["until"].as_i64().unwrap() - ban["since"].as_i64().unwrap(),
        15 * 60
    );
    let (_, list) = app.json("GET", "/api/v1/security/bans", &admin, None).await;
    assert_eq!(list[0]["ip"], "203.0.113.7", "{list}");
    // Agents may not see or change it.
    let (status, _) = app.json("GET", "/api/v1/security/bans", &agent, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Every request from the banned address: 429 with a JSON reason.
    let banned: std::net::SocketAddr = "203.0.113.7:5555".parse().unwrap();
    let mut request = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(banned));
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "source_banned");

    // Bad input: a field error, not a 5xx.
    for bad in ["not-an-ip", "", "203.0.113.300"] {
        let (status, error) = app
            .json(
                "POST",
                "/api/v1/security/bans",
                &admin,
                Some(json!({"ip": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error["field"], "ip");
    }

    let (status, _) = app
        .json("DELETE", "/api/v1/security/bans/203.0.113.7", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .json("DELETE", "/api/v1/security/bans/203.0.113.7", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.json("GET", "/api/v1/security/bans", &admin, None).await;
    assert_eq!(list, json!([]));
    // The audit log has both.
    let (_, audit) = app
        .json("GET", "/api/v1/audit?entity=source", &admin, None)
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(2), "{audit}");
}
