//! `/api/v1/dialing-policy`, `/agents/{id}/dialing-policy`,
//! `/campaigns/{id}/dialing-policy`: stored, validated, audited, and in
//! the dialing profile the phone and the SIP core get.

use serde_json::{Value, json};

use super::*;

/// The `demo` agent's destination policies as its phone gets them.
async fn policies(app: &TestApp, agent: &str) -> Value {
    let (status, session) = app.json("GET", "/api/v1/session", agent, None).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    session["dialing"]["destination_policies"].clone()
}

async fn demo_id(app: &TestApp) -> i64 {
    crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn role_defaults_are_safe_and_an_agent_policy_replaces_its_roles() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, defaults) = app
        .json("GET", "/api/v1/dialing-policy", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{defaults}");
    assert_eq!(defaults["dial_countries"], json!([]));
    let roles = defaults["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 3);
    for r in roles {
        assert_eq!(r["stored"], false, "{r}");
        assert_eq!(
            r["policy"],
            json!({"allowed_countries": [], "block_premium": true, "block_high_risk": true,
                   "allow_prefixes": [], "block_prefixes": []})
        );
    }
    // Nothing configured: the default policy (premium and high-risk
    // blocked, any country) is what the phone gets.
    assert_eq!(policies(&app, &agent).await, json!([roles[0]["policy"]]));

    // The agents' role default: countries upper-cased, once each.
    let (status, role) = app
        .json(
            "PUT",
            "/api/v1/dialing-policy/roles/agent",
            &admin,
            Some(
                json!({"allowed_countries": ["us", "CA", "US"], "block_prefixes": ["+1 212 555"]}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["stored"], true);
    assert_eq!(role["policy"]["allowed_countries"], json!(["US", "CA"]));
    assert_eq!(role["policy"]["block_prefixes"], json!(["+1212555"]));
    assert_eq!(role["policy"]["block_premium"], true);
    let got = policies(&app, &agent).await;
    assert_eq!(got, json!([role["policy"]]));

    // The agent's own replaces it.
    let uri = format!("/api/v1/agents/{}/dialing-policy", demo_id(&app).await);
    let (status, own) = app.json("GET", &uri, &admin, None).await;
    assert_eq!((status, &own), (StatusCode::OK, &json!({"policy": null})));
    let (status, own) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"allowed_countries": ["US"], "block_premium": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let got = policies(&app, &agent).await;
    assert_eq!(got, json!([own["policy"]]));
    assert_eq!(got[0]["block_premium"], false);
    assert_eq!(got[0]["block_high_risk"], true);
    let (_, again) = app.json("GET", &uri, &admin, None).await;
    assert_eq!(again, own);

    // Removed: the role's again.
    let (status, _) = app.json("DELETE", &uri, &admin, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(policies(&app, &agent).await, json!([role["policy"]]));

    // Each change is in the audit log, old and new.
    let (status, log) = app
        .json(
            "GET",
            "/api/v1/audit?entity=destination_policy",
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let entries: Vec<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["entity_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let demo = demo_id(&app).await;
    assert_eq!(
        entries,
        [
            ("delete".to_owned(), format!("agent:{demo}")),
            ("create".to_owned(), format!("agent:{demo}")),
            ("create".to_owned(), "role:agent".to_owned()),
        ]
    );
    let newest = &log["items"][0];
    assert!(newest["old_json"].as_str().unwrap().contains("\"US\""));
    assert!(newest["new_json"].is_null());

    // The role back to the default.
    let (status, role) = app
        .json("DELETE", "/api/v1/dialing-policy/roles/agent", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    assert_eq!(role["stored"], false);
    assert_eq!(role["policy"]["allowed_countries"], json!([]));
}

#[tokio::test]
async fn bad_policies_are_refused_with_the_field_named() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let uri = format!("/api/v1/agents/{}/dialing-policy", demo_id(&app).await);
    let cases = [
        (
            json!({"allowed_countries": ["US", "XX"]}),
            "allowed_countries",
            "`XX` is not a country code",
        ),
        (
            json!({"block_prefixes": ["44"]}),
            "block_prefixes",
            "must start with '+'",
        ),
        (
            json!({"allow_prefixes": ["+1 8x6"]}),
            "allow_prefixes",
            "must be '+' and digits",
        ),
        (
            json!({"allow_prefixes": ["+1 876"], "block_prefixes": ["+1876"]}),
            "block_prefixes",
            "+1 876 is both allowed and blocked",
        ),
        (
            json!({"allowed_countries": vec!["US"; 301]}),
            "allowed_countries",
            "At most 300",
        ),
    ];
    for (body, field, needle) in cases {
        let (status, json) = app.json("PUT", &uri, &admin, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {json}");
        assert_eq!(json["field"], field, "{body}: {json}");
        assert!(
            json["message"].as_str().unwrap().contains(needle),
            "{body}: {json}"
        );
    }
    // A misspelt field would save an open policy: refused.
    let (status, json) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"allowed_country": ["US"]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["code"], "invalid_body");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("allowed_country")
    );
    // Nothing was stored.
    assert_eq!(policies(&app, &agent).await.as_array().unwrap().len(), 1);
    assert_eq!(
        app.json("GET", &uri, &admin, None).await.1,
        json!({"policy": null})
    );

    // No such agent, role or campaign: 404 with JSON.
    for path in [
        "/api/v1/agents/999/dialing-policy",
        "/api/v1/campaigns/999/dialing-policy",
        "/api/v1/dialing-policy/roles/boss",
    ] {
        for method in ["GET", "PUT"] {
            let (status, json) = app.json(method, path, &admin, Some(json!({}))).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {json}");
            assert_eq!(json["code"], "not_found", "{method} {path}");
        }
    }
    // Only admins write.
    let (_, supervisor) = app.account(&admin, "sue", "supervisor").await;
    let (status, json) = app.json("PUT", &uri, &supervisor, Some(json!({}))).await;
    assert_eq!(
        (status, json["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (status, _) = app.json("GET", &uri, &supervisor, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_campaign_policy_applies_on_top_to_its_agents() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, did) = app
        .json(
            "POST",
            "/api/v1/dids",
            &admin,
            Some(json!({"number": "+14155550101", "label": "Sales", "route": "reject", "reject_code": 480})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{did}");
    let (status, campaign) = app
        .json(
            "POST",
            "/api/v1/campaigns",
            &admin,
            Some(json!({"name": "Spring", "numbers": ["+14155550101"], "agents": ["demo"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{campaign}");
    let uri = format!(
        "/api/v1/campaigns/{}/dialing-policy",
        campaign["id"].as_i64().unwrap()
    );
    let (status, got) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(json!({"allowed_countries": ["US"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let layers = policies(&app, &agent).await;
    assert_eq!(layers.as_array().unwrap().len(), 2, "{layers}");
    assert_eq!(layers[1], got["policy"]);

    // Deleting the campaign takes its policy along.
    let (status, _) = app
        .json(
            "DELETE",
            &format!("/api/v1/campaigns/{}", campaign["id"]),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(policies(&app, &agent).await.as_array().unwrap().len(), 1);
    let (status, _) = app.json("GET", &uri, &admin, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_prefix_list_is_the_shipped_one_until_an_admin_edits_it() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let uri = "/api/v1/dialing-policy/prefixes";
    let (status, list) = app.json("GET", uri, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["edited"], false);
    let shipped = list["entries"].as_array().unwrap().len();
    assert_eq!(
        shipped,
        shared::destination::prefixes::shipped().entries().len()
    );
    assert!(
        list["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["prefix"] == "+1876" && e["class"] == "high_risk")
    );
    let (_, session) = app.json("GET", "/api/v1/session", &agent, None).await;
    assert!(session["dialing"].get("prefix_list").is_none(), "{session}");

    let edited = json!({"entries": [
        {"prefix": "+44 20 7946", "class": "high_risk", "note": "a test range"},
        {"prefix": "+1 876", "class": "high_risk", "note": "Jamaica"}
    ]});
    let (status, list) = app.json("PUT", uri, &admin, Some(edited)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["edited"], true);
    assert_eq!(list["entries"][0]["prefix"], "+44207946");
    let (_, session) = app.json("GET", "/api/v1/session", &agent, None).await;
    assert_eq!(session["dialing"]["prefix_list"], list["entries"]);

    for (body, needle) in [
        (
            json!({"entries": [{"prefix": "44", "class": "premium", "note": "x"}]}),
            "must start with '+'",
        ),
        (
            json!({"entries": [{"prefix": "+44", "class": "cheap", "note": "x"}]}),
            "unknown variant",
        ),
        (
            json!({"entries": [{"prefix": "+44", "class": "premium", "note": "a"},
                               {"prefix": "+4 4", "class": "premium", "note": "b"}]}),
            "+44 is listed twice",
        ),
        (json!({"entries": [], "extra": 1}), "unknown field"),
    ] {
        let (status, json) = app.json("PUT", uri, &admin, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {json}");
        assert_eq!(json["field"], "entries", "{body}: {json}");
        assert!(
            json["message"].as_str().unwrap().contains(needle),
            "{body}: {json}"
        );
    }
    // Unchanged by the refused edits.
    assert_eq!(app.json("GET", uri, &admin, None).await.1, list);

    let (status, back) = app.json("DELETE", uri, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{back}");
    assert_eq!(back["edited"], false);
    assert_eq!(back["entries"].as_array().unwrap().len(), shipped);
    let (_, session) = app.json("GET", "/api/v1/session", &agent, None).await;
    assert!(session["dialing"].get("prefix_list").is_none(), "{session}");
    let (_, log) = app
        .json("GET", "/api/v1/audit?entity=prefix_list", &admin, None)
        .await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "update"]);
}
