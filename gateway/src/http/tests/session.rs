//! Sign-in hardening: cookie flags and the lock-out.

use super::*;

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_cleared_on_sign_out() {
    let app = test_app().await;
    let (status, cookie, _) = app.sign_in("right-password").await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie.unwrap();
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{cookie}");
    // Strict: no other site can make the browser send it (CSRF).
    assert!(attrs.contains(&"SameSite=Strict"), "{cookie}");
    assert!(attrs.contains(&"Path=/"), "{cookie}");
    let (status, headers, _) = app
        .call(
            "DELETE",
            "/api/v1/session",
            Some(&cookie_pair(&cookie)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cleared = headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"));
}

#[tokio::test]
async fn five_failures_lock_the_account_with_retry_information() {
    let app = test_app().await;
    for _ in 0..5 {
        let (status, _, json) = app.sign_in("wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    }
    let body = serde_json::json!({"username": "demo", "password": "right-password"}).to_string();
    let (status, headers, json) = app.call("POST", "/api/v1/session", None, Some(&body)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json["code"], "account_locked");
    assert!(
        json["message"].as_str().unwrap().contains("15 minutes"),
        "{json}"
    );
    let retry: i64 = headers
        .get(header::RETRY_AFTER)
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry, 15 * 60);
    // An admin's password reset lifts the lock.
    let (_, admin, _) = app.sign_in_as("admin", "admin-password").await;
    let admin = cookie_pair(&admin.unwrap());
    let demo = crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let (status, _) = app
        .json(
            "POST",
            &format!("/api/v1/agents/{}/password", demo.id),
            &admin,
            Some(serde_json::json!({"password": "a-new-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.sign_in("a-new-password").await.0, StatusCode::OK);
}
