//! Sign-in hardening: cookie flags, the lock-out per source, and answers
//! that do not tell which usernames exist.

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
            Some(serde_json::json!({"password": "Fresh-Kettle-Violet-42"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.sign_in("Fresh-Kettle-Violet-42").await.0,
        StatusCode::OK
    );
}

/// A sign-in from `peer`; status, headers and the body's bytes.
async fn sign_in_from(
    app: &TestApp,
    peer: &str,
    username: &str,
    password: &str,
) -> (StatusCode, axum::http::HeaderMap, bytes::Bytes) {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let mut request = Request::builder()
        .method("POST")
        .uri("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let peer: std::net::SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.send(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

#[tokio::test]
async fn a_stranger_locks_out_only_himself_not_the_agent() {
    let app = test_app().await;
    const ATTACKER: &str = "127.0.0.5:50000";
    const AGENT: &str = "127.0.0.2:50000";
    for _ in 0..5 {
        let (status, _, _) = sign_in_from(&app, ATTACKER, "demo", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The attacker's address is locked out of `demo`, even with the right
    // password (from another port of the same address too).
    let (status, _, _) = sign_in_from(&app, "127.0.0.5:50001", "demo", "right-password").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The agent, from her own address, signs in at once.
    let (status, headers, body) = sign_in_from(&app, AGENT, "demo", "right-password").await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert!(headers.contains_key(header::SET_COOKIE));
    // The admin list shows that somebody is locked out of the account.
    let (_, admin, _) = app.sign_in_as("admin", "admin-password").await;
    let admin = cookie_pair(&admin.unwrap());
    let (status, list) = app.json("GET", "/api/v1/agents", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    let demo = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "demo")
        .unwrap()
        .clone();
    assert!(demo["locked_until"].as_i64().is_some(), "{demo}");
}

#[tokio::test]
async fn unknown_and_known_usernames_get_byte_identical_answers() {
    let app = test_app().await;
    const SOURCE: &str = "127.0.0.7:40000";
    // Wrong password for a real account, and any password for no account.
    let known = sign_in_from(&app, SOURCE, "demo", "not-the-password").await;
    let unknown = sign_in_from(&app, SOURCE, "nobody", "not-the-password").await;
    assert_eq!(known.0, StatusCode::UNAUTHORIZED);
    assert_eq!((known.0, &known.2), (unknown.0, &unknown.2));
    assert_eq!(known.1.get(header::SET_COOKIE), None);
    assert_eq!(unknown.1.get(header::SET_COOKIE), None);
    // Locked out: the same 429, Retry-After and body for both.
    for _ in 0..4 {
        sign_in_from(&app, SOURCE, "demo", "not-the-password").await;
        sign_in_from(&app, SOURCE, "nobody", "not-the-password").await;
    }
    let known = sign_in_from(&app, SOURCE, "demo", "right-password").await;
    let unknown = sign_in_from(&app, SOURCE, "nobody", "right-password").await;
    assert_eq!(known.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!((known.0, &known.2), (unknown.0, &unknown.2));
    assert_eq!(
        known.1.get(header::RETRY_AFTER),
        unknown.1.get(header::RETRY_AFTER)
    );
    // The same holds for the header sets: same names, same values (the
    // date aside).
    let names = |h: &axum::http::HeaderMap| {
        let mut v: Vec<(String, String)> = h
            .iter()
            .filter(|(n, _)| *n != header::DATE)
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&known.1), names(&unknown.1));
}

#[tokio::test]
async fn guesses_sent_in_parallel_get_no_more_tries() {
    let app = test_app().await;
    let guesses = (0..20).map(|i| {
        let app = &app;
        async move { sign_in_from(app, "127.0.0.9:40000", "demo", &format!("guess-{i}")).await }
    });
    let answers = futures_util::future::join_all(guesses).await;
    let tried = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    let locked = answers
        .iter()
        .filter(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((tried, locked), (5, 15));
}
