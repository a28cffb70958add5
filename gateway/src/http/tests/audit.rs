//! The audit log: every change, with old → new and no secrets.

use serde_json::{Value, json};

use super::*;

#[tokio::test]
async fn every_change_is_audited_without_secrets() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let carrier =
        json!({"name": "T", "host": "192.0.2.1", "username": "u", "secret": "s3cret-value"});
    let (status, created) = app
        .json("POST", "/api/v1/carriers", &admin, Some(carrier))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let uri = format!("/api/v1/carriers/{}", created["id"]);
    let (status, _) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"name": "T2", "host": "192.0.2.1", "secret": "other-s3cret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.json("DELETE", &uri, &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .json(
            "POST",
            "/api/v1/dids",
            &admin,
            Some(json!({"number": "+14155550101", "route": "agent", "agent": "demo"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .json(
            "POST",
            "/api/v1/ring-groups",
            &admin,
            Some(json!({"name": "G", "members": ["demo"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, csv) = app
        .call_typed(
            "POST",
            "/api/v1/dids/import",
            Some(&admin),
            Some(("text/csv", "+14155550102,Two,agent,demo\n")),
        )
        .await
        .into_tuple();
    assert_eq!(status, StatusCode::OK, "{csv}");
    app.account(&admin, "carol", "agent").await;
    let (status, token) = app
        .json("POST", "/api/v1/tokens", &admin, Some(json!({"name": "t"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let raw_token = token["token"].as_str().unwrap().to_owned();

    let (status, page) = app
        .json("GET", "/api/v1/audit?limit=500", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let text = page.to_string();
    for secret in [
        "s3cret-value",
        "other-s3cret",
        "A-Good-Kettle-Password",
        &raw_token[4..],
        "argon2",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let items = page["items"].as_array().unwrap();
    let summary: Vec<(String, String)> = items
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["entity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("create", "api_token"),
        ("create", "agent"),
        ("import", "did"),
        ("create", "ring_group"),
        ("create", "did"),
        ("delete", "carrier"),
        ("update", "carrier"),
        ("create", "carrier"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(a, e)| ((*a).to_owned(), (*e).to_owned()))
        .collect();
    assert_eq!(summary, expect);
    assert!(items.iter().all(|e| e["actor"] == "admin"));
    let update = &items[6];
    let old: Value = serde_json::from_str(update["old_json"].as_str().unwrap()).unwrap();
    let new: Value = serde_json::from_str(update["new_json"].as_str().unwrap()).unwrap();
    assert_eq!(old["name"], "T");
    assert_eq!(new["name"], "T2");
    assert_eq!(new["secret_changed"], true);
    assert_eq!(update["entity_id"], created["id"].to_string());
    assert_eq!(items[5]["new_json"], Value::Null);

    // Paginated, newest first, and filtered by entity.
    let (_, first) = app.json("GET", "/api/v1/audit?limit=3", &admin, None).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app
        .json(
            "GET",
            &format!("/api/v1/audit?limit=3&cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(second["items"][0]["id"], items[3]["id"]);
    let (_, carriers) = app
        .json("GET", "/api/v1/audit?entity=carrier", &admin, None)
        .await;
    assert_eq!(carriers["items"].as_array().unwrap().len(), 3);
}

trait IntoTuple {
    fn into_tuple(self) -> (StatusCode, Value);
}

impl IntoTuple for (StatusCode, axum::http::HeaderMap, Value) {
    fn into_tuple(self) -> (StatusCode, Value) {
        (self.0, self.2)
    }
}
