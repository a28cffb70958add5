//! `/api/v1/agents`: validation, roles, disabling and password resets.

use serde_json::{Value, json};

use super::*;

/// Posts `body` to `uri` and expects a 400 naming `field`.
async fn refused(app: &TestApp, admin: &str, method: &str, uri: &str, body: Value, field: &str) {
    let (status, json) = app.json(method, uri, admin, Some(body.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {json}");
    assert_eq!(json["field"], field, "{body} → {json}");
    let code = if field == "password" {
        "weak_password"
    } else {
        "invalid_field"
    };
    assert_eq!(json["code"], code, "{json}");
}

#[tokio::test]
async fn agents_are_created_validated_and_never_show_a_password() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, agent) = app
        .json(
            "POST",
            "/api/v1/agents",
            &admin,
            Some(json!({"username": " Alice.B ", "display_name": " Alice B ",
                        "password": "Long-Enough-Kettle-7", "max_calls": 3, "local_presence": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["username"], "alice.b");
    assert_eq!(agent["display_name"], "Alice B");
    assert_eq!(agent["role"], "agent");
    assert_eq!(agent["enabled"], true);
    assert_eq!(agent["max_calls"], 3);
    assert_eq!(agent["local_presence"], true);
    let text = agent.to_string();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );

    let uri = format!("/api/v1/agents/{}", agent["id"]);
    let (status, got) = app.json("GET", &uri, &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, agent);

    let base =
        json!({"username": "bob", "display_name": "Bob", "password": "Long-Enough-Kettle-7"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("username", json!("bad name")), "username"),
        (with("username", json!("-dash")), "username"),
        (with("username", json!("")), "username"),
        (with("username", json!("x".repeat(33))), "username"),
        (with("display_name", json!("  ")), "display_name"),
        (with("password", json!("short")), "password"),
        (with("max_calls", json!(0)), "max_calls"),
        (with("max_calls", json!(101)), "max_calls"),
    ] {
        refused(&app, &admin, "POST", "/api/v1/agents", body, field).await;
    }
    let (status, json) = app
        .json(
            "POST",
            "/api/v1/agents",
            &admin,
            Some(with("username", json!("ALICE.B"))),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["field"], "username");
    let (status, json) = app
        .json(
            "POST",
            "/api/v1/agents",
            &admin,
            Some(with("role", json!("root"))),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["code"], "invalid_body");

    refused(
        &app,
        &admin,
        "PUT",
        &uri,
        json!({"display_name": "A", "role": "agent", "max_calls": 0}),
        "max_calls",
    )
    .await;
    refused(
        &app,
        &admin,
        "POST",
        &format!("{uri}/password"),
        json!({"password": "short"}),
        "password",
    )
    .await;
    let (status, json) = app.json("GET", "/api/v1/agents/999", &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
}

#[tokio::test]
async fn agent_lists_are_paginated() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    for name in ["a1", "a2", "a3"] {
        app.account(&admin, name, "agent").await;
    }
    let mut seen = Vec::new();
    let mut uri = "/api/v1/agents?limit=2".to_owned();
    loop {
        let (status, page) = app.json("GET", &uri, &admin, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|a| a["username"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/agents?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["demo", "admin", "a1", "a2", "a3"]);
    for bad in ["limit=0", "limit=501", "limit=x", "cursor=abc"] {
        let (status, json) = app
            .json("GET", &format!("/api/v1/agents?{bad}"), &admin, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {json}");
        assert!(
            json["field"] == "limit" || json["field"] == "cursor",
            "{json}"
        );
    }
}

#[tokio::test]
async fn agents_get_403_and_supervisors_only_read() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (_, supervisor) = app.account(&admin, "sue", "supervisor").await;
    let carrier = json!({"name": "T", "host": "192.0.2.1"});
    let (status, created) = app
        .json("POST", "/api/v1/carriers", &admin, Some(carrier.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let carrier_uri = format!("/api/v1/carriers/{}", created["id"]);
    let reads = [
        "/api/v1/agents",
        "/api/v1/agents/1",
        "/api/v1/agents/1/caller-ids",
        "/api/v1/carriers",
        carrier_uri.as_str(),
        "/api/v1/dids",
        "/api/v1/ring-groups",
        "/api/v1/campaigns",
    ];
    for uri in reads {
        let (status, json) = app.json("GET", uri, &agent, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "agent GET {uri}: {json}");
        assert_eq!(json["code"], "forbidden");
        let (status, json) = app.json("GET", uri, &supervisor, None).await;
        assert_eq!(status, StatusCode::OK, "supervisor GET {uri}: {json}");
    }
    for uri in ["/api/v1/tokens", "/api/v1/audit"] {
        for who in [&agent, &supervisor] {
            let (status, json) = app.json("GET", uri, who, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "GET {uri}: {json}");
        }
    }
    let writes: [(&str, &str, Value); 8] = [
        ("POST", "/api/v1/carriers", carrier.clone()),
        ("PUT", carrier_uri.as_str(), carrier),
        ("DELETE", carrier_uri.as_str(), Value::Null),
        (
            "POST",
            "/api/v1/agents",
            json!({"username": "x", "display_name": "x", "password": "12345678"}),
        ),
        (
            "PUT",
            "/api/v1/agents/1",
            json!({"display_name": "x", "role": "admin"}),
        ),
        (
            "POST",
            "/api/v1/agents/1/password",
            json!({"password": "12345678"}),
        ),
        ("PUT", "/api/v1/agents/1/caller-ids", json!({"allowed": []})),
        ("POST", "/api/v1/campaigns", json!({"name": "C"})),
    ];
    for (method, uri, body) in writes {
        let body = (!body.is_null()).then_some(body);
        for who in [&agent, &supervisor] {
            let (status, json) = app.json(method, uri, who, body.clone()).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {json}");
            assert_eq!(json["code"], "forbidden");
        }
    }
    let (status, _) = app
        .json(
            "POST",
            "/api/v1/tokens",
            &supervisor,
            Some(json!({"name": "t"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nobody signed in: 401.
    let (status, _, json) = app.call("GET", "/api/v1/agents", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["code"], "not_signed_in");
}

#[tokio::test]
async fn disabling_an_agent_signs_it_out_and_resetting_a_password_too() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let demo = crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let uri = format!("/api/v1/agents/{}", demo.id);
    let (status, got) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"display_name": "Demo", "role": "agent", "enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["enabled"], false);
    let (status, _) = app.json("GET", "/api/v1/session", &agent, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let creds: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sip_credentials WHERE account_id = ?")
            .bind(demo.id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(creds, 0);
    assert_eq!(
        app.sign_in("right-password").await.0,
        StatusCode::UNAUTHORIZED
    );

    app.json(
        "PUT",
        &uri,
        &admin,
        Some(json!({"display_name": "Demo", "role": "agent"})),
    )
    .await;
    let (status, cookie, _) = app.sign_in("right-password").await;
    assert_eq!(status, StatusCode::OK);
    let cookie = cookie_pair(&cookie.unwrap());
    let (status, body) = app
        .json(
            "POST",
            &format!("{uri}/password"),
            &admin,
            Some(json!({"password": "Brand-New-Kettle-9"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(body, Value::Null);
    let (status, _) = app.json("GET", "/api/v1/session", &cookie, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.sign_in("right-password").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.sign_in("Brand-New-Kettle-9").await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_last_admin_stays_an_admin() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let me = crate::db::account_by_username(&app.db, "admin")
        .await
        .unwrap()
        .unwrap();
    let uri = format!("/api/v1/agents/{}", me.id);
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"display_name": "A", "role": "agent"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["code"], "last_admin");
    assert_eq!(json["field"], "role");
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"display_name": "A", "role": "admin", "enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["field"], "enabled");
}

#[tokio::test]
async fn weak_passwords_are_refused_with_the_reason() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let new = |password: &str| json!({"username": "carol", "display_name": "Carol Jones", "password": password});
    for (password, says) in [
        ("short-1", "12 to 128 characters"),
        ("qwerty123456", "most common passwords"),
        ("carolcarol12", "too easy to guess"),
        ("abcabcabcabcabc", "too easy to guess"),
    ] {
        let (status, json) = app
            .json("POST", "/api/v1/agents", &admin, Some(new(password)))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{password}: {json}");
        assert_eq!(json["code"], "weak_password", "{password}");
        assert_eq!(json["field"], "password", "{password}");
        let message = json["message"].as_str().unwrap();
        assert!(message.contains(says), "{password}: {message}");
    }
    // Nothing was created; a strong one goes through.
    let (status, json) = app
        .json(
            "POST",
            "/api/v1/agents",
            &admin,
            Some(new("Violet kettle drums at noon")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    // A reset is held to the same rules, the account's names included.
    let (status, json) = app
        .json(
            "POST",
            &format!("/api/v1/agents/{}/password", json["id"]),
            &admin,
            Some(json!({"password": "1qaz2wsx3edc"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["code"], "weak_password");
}
