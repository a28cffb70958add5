//! `/api/v1/agents/{id}/caller-ids` and `/api/v1/campaigns`: only our
//! enabled DIDs may be presented, and the phone is offered exactly those.

use serde_json::{Value, json};

use super::*;

async fn did(app: &TestApp, admin: &str, number: &str, label: &str) -> i64 {
    let (status, did) = app
        .json(
            "POST",
            "/api/v1/dids",
            admin,
            Some(json!({"number": number, "label": label, "route": "reject", "reject_code": 480})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{did}");
    did["id"].as_i64().unwrap()
}

/// The `demo` agent's dialing profile as its phone gets it.
async fn profile(app: &TestApp, agent: &str) -> Value {
    let (status, session) = app.json("GET", "/api/v1/session", agent, None).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    session["dialing"].clone()
}

#[tokio::test]
async fn only_enabled_dids_may_be_caller_ids() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let demo = crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let uri = format!("/api/v1/agents/{}/caller-ids", demo.id);
    let sales = did(&app, &admin, "+14155550101", "Sales").await;
    did(&app, &admin, "+14155550102", "Support").await;

    // Not ours: refused, naming the number.
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"allowed": [{"number": "+14155550199", "label": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["field"], "allowed");
    assert!(
        json["message"].as_str().unwrap().contains("+14155550199"),
        "{json}"
    );
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"allowed": [{"number": "not a number", "label": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["field"], "allowed");
    // The default must be one of the allowed numbers.
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"default": "+14155550102",
               "allowed": [{"number": "+14155550101", "label": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["field"], "default");

    // National numbers are read in the default country; an empty label
    // shows the DID's.
    let (status, got) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"default": "(415) 555-0102",
               "allowed": [{"number": "4155550101", "label": ""},
                           {"number": "+14155550102", "label": "Help"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["default"], "+14155550102");
    let (_, again) = app.json("GET", &uri, &admin, None).await;
    assert_eq!(again, got);
    let dialing = profile(&app, &agent).await;
    assert_eq!(dialing["default_caller_id"], "+14155550102");
    assert_eq!(
        dialing["caller_ids"],
        json!([{"number": "+14155550102", "label": "Help"},
               {"number": "+14155550101", "label": "Sales"}])
    );

    // A disabled DID drops out of the phone's choices at once.
    let (status, _) = app
        .json("PUT", &format!("/api/v1/dids/{sales}"), &admin,
              Some(json!({"number": "+14155550101", "route": "reject", "reject_code": 480, "enabled": false})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let dialing = profile(&app, &agent).await;
    assert_eq!(
        dialing["caller_ids"],
        json!([{"number": "+14155550102", "label": "Help"}])
    );
    // And may not be given again.
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"allowed": [{"number": "+14155550101", "label": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
}

#[tokio::test]
async fn campaigns_add_their_numbers_to_their_agents() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    did(&app, &admin, "+14155550101", "Sales").await;
    did(&app, &admin, "+14155550103", "Spring").await;
    let refuse = |body: Value, field: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, json) = app
                .json("POST", "/api/v1/campaigns", &admin, Some(body))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
            assert_eq!(json["field"], field, "{json}");
        }
    };
    refuse(json!({"name": " "}), "name").await;
    refuse(json!({"name": "C", "numbers": ["+14155550199"]}), "numbers").await;
    refuse(
        json!({"name": "C", "numbers": ["+14155550101", "+14155550101"]}),
        "numbers",
    )
    .await;
    refuse(json!({"name": "C", "agents": ["nobody"]}), "agents").await;

    let (status, campaign) = app
        .json(
            "POST",
            "/api/v1/campaigns",
            &admin,
            Some(json!({"name": "Spring", "numbers": ["+14155550103"], "agents": ["DEMO"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    assert_eq!(campaign["agents"], json!(["demo"]));
    assert_eq!(campaign["numbers"], json!(["+14155550103"]));
    let (status, json) = app
        .json(
            "POST",
            "/api/v1/campaigns",
            &admin,
            Some(json!({"name": "spring"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");

    let demo = crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let uri = format!("/api/v1/agents/{}/caller-ids", demo.id);
    // The default may be a campaign's number.
    let (status, got) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"default": "+14155550103",
               "allowed": [{"number": "+14155550101", "label": ""}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(
        got["allowed"],
        json!([{"number": "+14155550101", "label": ""}])
    );
    assert_eq!(
        got["from_campaigns"],
        json!([{"number": "+14155550103", "label": "Spring"}])
    );
    let dialing = profile(&app, &agent).await;
    assert_eq!(dialing["default_caller_id"], "+14155550103");
    assert_eq!(
        dialing["caller_ids"],
        json!([{"number": "+14155550101", "label": "Sales"},
               {"number": "+14155550103", "label": "Spring"}])
    );

    // Out of the campaign: its number, and the default with it, are gone.
    let campaign_uri = format!("/api/v1/campaigns/{}", campaign["id"]);
    let (status, _) = app.json("DELETE", &campaign_uri, &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let dialing = profile(&app, &agent).await;
    assert_eq!(dialing["default_caller_id"], Value::Null);
    assert_eq!(
        dialing["caller_ids"],
        json!([{"number": "+14155550101", "label": "Sales"}])
    );
    let (status, _) = app.json("GET", &campaign_uri, &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
