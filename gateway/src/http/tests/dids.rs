//! `/api/v1/dids` and `/api/v1/ring-groups`.

use serde_json::{Value, json};

use super::*;

/// Creates a DID and returns its JSON.
async fn create_did(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, _, json) = app
        .call("POST", "/api/v1/dids", Some(admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

async fn create_group(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, _, json) = app
        .call(
            "POST",
            "/api/v1/ring-groups",
            Some(admin),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

/// Posts `body` and expects a 400 naming `field`.
async fn refused(app: &TestApp, admin: &str, uri: &str, body: Value, field: &str) -> Value {
    let (status, _, json) = app
        .call("POST", uri, Some(admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {json}");
    assert_eq!(json["field"], field, "{body} → {json}");
    assert_eq!(json["code"], "invalid_field", "{json}");
    assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    json
}

async fn import(app: &TestApp, admin: &str, csv: &str) -> (StatusCode, Value) {
    let (status, _, json) = app
        .call_typed(
            "POST",
            "/api/v1/dids/import",
            Some(admin),
            Some(("text/csv; charset=utf-8", csv)),
        )
        .await;
    (status, json)
}

#[tokio::test]
async fn dids_crud_round_trip() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;

    // National numbers are read in the default country (US).
    let did = create_did(
        &app,
        &admin,
        json!({"number": "(415) 555-0101", "label": " Sales ", "route": "agent", "agent": "DEMO"}),
    )
    .await;
    assert_eq!(did["number"], "+14155550101");
    assert_eq!(did["label"], "Sales");
    assert_eq!(did["route"], "agent");
    assert_eq!(did["agent"], "demo");
    assert_eq!(did["enabled"], true);
    assert_eq!(did["carrier_id"], Value::Null);
    let id = did["id"].as_i64().unwrap();
    let uri = format!("/api/v1/dids/{id}");

    let (status, _, got) = app.call("GET", &uri, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, did);

    let group = create_group(
        &app,
        &admin,
        json!({"name": "Support", "strategy": "in_order", "members": ["demo", "admin"]}),
    )
    .await;
    let body = json!({"number": "+14155550101", "label": "Support line", "route": "group",
                      "group_id": group["id"], "enabled": false});
    let (status, _, updated) = app
        .call("PUT", &uri, Some(&admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["route"], "group");
    assert_eq!(updated["group_id"], group["id"]);
    assert_eq!(updated["group"], "Support");
    assert_eq!(updated["agent"], Value::Null);
    assert_eq!(updated["enabled"], false);

    // A form may send the other routes' fields empty.
    let body = json!({"number": "+14155550101", "route": "reject", "reject_code": 486,
                      "agent": "", "group_id": null});
    let (status, _, updated) = app
        .call("PUT", &uri, Some(&admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["reject_code"], 486);
    assert_eq!(updated["group_id"], Value::Null);

    let (status, _, _) = app.call("DELETE", &uri, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in ["GET", "DELETE"] {
        let (status, _, json) = app.call(method, &uri, Some(&admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(json["code"], "not_found");
    }
    let (status, _, json) = app
        .call("PUT", &uri, Some(&admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
    let (status, _, json) = app
        .call("GET", "/api/v1/dids/abc", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["field"], "id");
}

#[tokio::test]
async fn did_validation_errors_name_the_field() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let group = create_group(&app, &admin, json!({"name": "Sales"})).await;
    let uri = "/api/v1/dids";
    let n = "+14155550101";
    let cases = [
        (
            json!({"number": "555-CALL-NOW", "route": "reject", "reject_code": 404}),
            "number",
        ),
        (
            json!({"number": "12", "route": "reject", "reject_code": 404}),
            "number",
        ),
        (json!({"number": n, "route": "agent"}), "agent"),
        (
            json!({"number": n, "route": "agent", "agent": " "}),
            "agent",
        ),
        (
            json!({"number": n, "route": "agent", "agent": "nobody"}),
            "agent",
        ),
        (
            json!({"number": n, "route": "agent", "agent": "demo", "reject_code": 486}),
            "reject_code",
        ),
        (
            json!({"number": n, "route": "agent", "agent": "demo", "group_id": group["id"]}),
            "group_id",
        ),
        (json!({"number": n, "route": "group"}), "group_id"),
        (
            json!({"number": n, "route": "group", "group_id": 999}),
            "group_id",
        ),
        (
            json!({"number": n, "route": "group", "group_id": group["id"], "agent": "demo"}),
            "agent",
        ),
        (json!({"number": n, "route": "reject"}), "reject_code"),
        (
            json!({"number": n, "route": "reject", "reject_code": 302}),
            "reject_code",
        ),
        (
            json!({"number": n, "route": "reject", "reject_code": 700}),
            "reject_code",
        ),
        (
            json!({"number": n, "route": "reject", "reject_code": 404, "carrier_id": 999}),
            "carrier_id",
        ),
        (
            json!({"number": n, "route": "reject", "reject_code": 404, "label": "x".repeat(65)}),
            "label",
        ),
    ];
    for (body, field) in cases {
        refused(&app, &admin, uri, body, field).await;
    }
    // The refusal suggests usual codes.
    let json = refused(
        &app,
        &admin,
        uri,
        json!({"number": n, "route": "reject"}),
        "reject_code",
    )
    .await;
    assert!(json["message"].as_str().unwrap().contains("480"), "{json}");

    // Not JSON, or an unknown route: a JSON error too.
    for body in ["{", r#"{"number":"+14155550101","route":"voicemail"}"#] {
        let (status, _, json) = app.call("POST", uri, Some(&admin), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(json["code"], "invalid_body", "{json}");
    }
    // Nothing was stored.
    let (_, _, list) = app.call("GET", uri, Some(&admin), None).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn agents_are_forbidden_and_strangers_unauthorised() {
    let app = test_app().await;
    let (_, agent) = admin_and_agent(&app).await;
    let did = json!({"number": "+14155550101", "route": "reject", "reject_code": 404}).to_string();
    let group = json!({"name": "Sales"}).to_string();
    let requests = [
        ("GET", "/api/v1/dids", None),
        ("POST", "/api/v1/dids", Some(did.as_str())),
        ("GET", "/api/v1/dids/1", None),
        ("PUT", "/api/v1/dids/1", Some(did.as_str())),
        ("DELETE", "/api/v1/dids/1", None),
        ("GET", "/api/v1/ring-groups", None),
        ("POST", "/api/v1/ring-groups", Some(group.as_str())),
        ("GET", "/api/v1/ring-groups/1", None),
        ("PUT", "/api/v1/ring-groups/1", Some(group.as_str())),
        ("DELETE", "/api/v1/ring-groups/1", None),
    ];
    for (method, uri, body) in requests {
        let (status, _, json) = app.call(method, uri, Some(&agent), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(json["code"], "forbidden");
        let (status, _, json) = app.call(method, uri, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(json["code"], "not_signed_in");
    }
    let (status, json) = import(&app, &agent, "+14155550101,,reject,404\n").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json["code"], "forbidden");
}

#[tokio::test]
async fn a_number_is_one_did_only() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    create_did(
        &app,
        &admin,
        json!({"number": "+14155550101", "route": "reject", "reject_code": 404}),
    )
    .await;
    // The same number written nationally.
    let body = json!({"number": "415 555 0101", "route": "agent", "agent": "demo"});
    let (status, _, json) = app
        .call(
            "POST",
            "/api/v1/dids",
            Some(&admin),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["code"], "duplicate_number");
    assert_eq!(json["field"], "number");

    // Renumbering another DID onto it.
    let other = create_did(
        &app,
        &admin,
        json!({"number": "+14155550102", "route": "reject", "reject_code": 404}),
    )
    .await;
    let (status, _, json) = app
        .call(
            "PUT",
            &format!("/api/v1/dids/{}", other["id"]),
            Some(&admin),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["field"], "number");
}

#[tokio::test]
async fn a_stored_number_is_kept_as_it_is() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    // The demo DID seeded on first start: not a valid NANP number (its
    // exchange starts with 0), so the API would not take it new.
    let demo = crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let id = crate::db::insert_did(
        &app.db,
        &crate::db::NewDid {
            number: crate::db::DEMO_DID.to_owned(),
            label: "Demo line".to_owned(),
            carrier_id: None,
            target: crate::db::StoredTarget::Agent(demo.id),
            enabled: true,
        },
        0,
    )
    .await
    .unwrap()
    .unwrap();
    let body = json!({"number": crate::db::DEMO_DID, "label": "Try me", "route": "agent",
                      "agent": "demo"});
    let (status, _, did) = app
        .call(
            "PUT",
            &format!("/api/v1/dids/{id}"),
            Some(&admin),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{did}");
    assert_eq!(did["label"], "Try me");
    assert_eq!(did["number"], crate::db::DEMO_DID);
    // A new number must pass the numbering plan.
    refused(
        &app,
        &admin,
        "/api/v1/dids",
        json!({"number": "+15550100101", "route": "reject", "reject_code": 404}),
        "number",
    )
    .await;
}

#[tokio::test]
async fn did_lists_are_paginated_by_number() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    for last in [5, 1, 4, 2, 3] {
        create_did(
            &app,
            &admin,
            json!({"number": format!("+1415555010{last}"), "route": "reject", "reject_code": 404}),
        )
        .await;
    }
    let mut numbers = Vec::new();
    let mut uri = "/api/v1/dids?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, _, page) = app.call("GET", &uri, Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            numbers.push(item["number"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("/api/v1/dids?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (1..=5).map(|i| format!("+1415555010{i}")).collect();
    assert_eq!(numbers, expected);

    // The default page holds them all.
    let (_, _, page) = app.call("GET", "/api/v1/dids", Some(&admin), None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    assert_eq!(page["next_cursor"], Value::Null);

    for (uri, field) in [
        ("/api/v1/dids?limit=0", "limit"),
        ("/api/v1/dids?limit=501", "limit"),
        ("/api/v1/dids?limit=many", "limit"),
        ("/api/v1/dids?cursor=%2B1415", "cursor"),
        ("/api/v1/ring-groups?cursor=x", "cursor"),
    ] {
        let (status, _, json) = app.call("GET", uri, Some(&admin), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(json["field"], field, "{uri}: {json}");
    }
}

#[tokio::test]
async fn csv_import_saves_good_rows_and_reports_bad_ones() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    create_group(&app, &admin, json!({"name": "Sales", "members": ["demo"]})).await;
    // An existing DID: the import updates it and keeps it disabled.
    let existing = create_did(
        &app,
        &admin,
        json!({"number": "+14155550109", "route": "reject", "reject_code": 404, "enabled": false}),
    )
    .await;

    let csv = "\u{feff}Number,Label,Route,Target,Carrier\r\n\
               (415) 555-0101,Main line,agent,demo,\r\n\
               +14155550102,\"Sales, west\",GROUP,sales\r\n\
               +14155550103,Closed,reject,603,\r\n\
               \r\n\
               +14155550109,Was rejecting,agent,Demo,\r\n\
               not-a-number,x,agent,demo,\r\n\
               +14155550104,x,agent,nobody,\r\n\
               +14155550105,x,group,Nope,\r\n\
               +14155550106,x,reject,ok,\r\n\
               +14155550107,x,reject,200,\r\n\
               +14155550108,x,voicemail,demo,\r\n\
               +14155550110,x,agent,demo,No such carrier\r\n\
               415-555-0101,again,agent,demo,\r\n\
               just-one-column\r\n";
    let (status, report) = import(&app, &admin, csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 3, "{report}");
    assert_eq!(report["updated"], 1, "{report}");
    let rejected: Vec<(i64, &str, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(!r["error"].as_str().unwrap().is_empty());
            (
                r["line"].as_i64().unwrap(),
                r["number"].as_str().unwrap(),
                r["field"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (7, "not-a-number", "number"),
            (8, "+14155550104", "target"),
            (9, "+14155550105", "target"),
            (10, "+14155550106", "target"),
            (11, "+14155550107", "target"),
            (12, "+14155550108", "route"),
            (13, "+14155550110", "carrier"),
            (14, "415-555-0101", "number"),
            (15, "just-one-column", "-"),
        ]
    );
    let duplicate = &report["rejected"][7]["error"];
    assert!(
        duplicate.as_str().unwrap().contains("line 2"),
        "{duplicate}"
    );

    let (_, _, list) = app.call("GET", "/api/v1/dids", Some(&admin), None).await;
    let items = list["items"].as_array().unwrap();
    let summary: Vec<(&str, &str, &str, bool)> = items
        .iter()
        .map(|d| {
            (
                d["number"].as_str().unwrap(),
                d["label"].as_str().unwrap(),
                d["route"].as_str().unwrap(),
                d["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("+14155550101", "Main line", "agent", true),
            ("+14155550102", "Sales, west", "group", true),
            ("+14155550103", "Closed", "reject", true),
            ("+14155550109", "Was rejecting", "agent", false),
        ]
    );
    assert_eq!(items[1]["group"], "Sales");
    assert_eq!(items[2]["reject_code"], 603);
    assert_eq!(items[3]["id"], existing["id"]);
    assert_eq!(items[3]["reject_code"], Value::Null);

    // Without a header row, by carrier name and id; the same rows again
    // are updates.
    let (status, _, carrier) = app
        .call(
            "POST",
            "/api/v1/carriers",
            Some(&admin),
            Some(r#"{"name":"Trunk A","host":"192.0.2.1"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    let carrier_id = carrier["id"].as_i64().unwrap();
    let csv = format!(
        "+14155550101,Main line,agent,demo,trunk a\n+14155550111,New,reject,480,{carrier_id}\n"
    );
    let (status, report) = import(&app, &admin, &csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report, json!({"created": 1, "updated": 1, "rejected": []}));
    let (_, _, list) = app.call("GET", "/api/v1/dids", Some(&admin), None).await;
    assert_eq!(list["items"][0]["carrier_id"], carrier_id);
}

#[tokio::test]
async fn csv_import_refuses_other_types_big_files_and_broken_csv() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, _, json) = app
        .call("POST", "/api/v1/dids/import", Some(&admin), Some("[]"))
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(json["code"], "unsupported_media_type");

    let row = "+14155550101,label,reject,404,\n";
    let big = row.repeat(crate::http::dids::MAX_IMPORT_BYTES / row.len() + 1);
    let (status, json) = import(&app, &admin, &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["code"], "too_large");

    let many = "1\n".repeat(crate::http::dids::MAX_IMPORT_ROWS + 1);
    let (status, json) = import(&app, &admin, &many).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json["message"].as_str().unwrap().contains("rows"), "{json}");

    let (status, json) = import(&app, &admin, "+14155550101,\"open\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["code"], "invalid_csv");

    let (status, report) = import(&app, &admin, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report, json!({"created": 0, "updated": 0, "rejected": []}));
}

#[tokio::test]
async fn ring_groups_crud_and_validation() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let group = create_group(
        &app,
        &admin,
        json!({"name": " Sales ", "members": ["demo", "ADMIN"], "fallback_code": 486}),
    )
    .await;
    assert_eq!(group["name"], "Sales");
    assert_eq!(group["strategy"], "all");
    assert_eq!(group["member_timeout_s"], 20);
    assert_eq!(group["fallback_code"], 486);
    assert_eq!(group["members"], json!(["demo", "admin"]));
    let uri = format!("/api/v1/ring-groups/{}", group["id"]);

    let uri_all = "/api/v1/ring-groups";
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(65)}), "name"),
        (
            json!({"name": "A", "member_timeout_s": 4}),
            "member_timeout_s",
        ),
        (
            json!({"name": "A", "member_timeout_s": 301}),
            "member_timeout_s",
        ),
        (json!({"name": "A", "fallback_code": 399}), "fallback_code"),
        (json!({"name": "A", "members": ["nobody"]}), "members"),
        (json!({"name": "A", "members": ["demo", "Demo"]}), "members"),
    ] {
        refused(&app, &admin, uri_all, body, field).await;
    }
    let (status, _, json) = app
        .call("POST", uri_all, Some(&admin), Some(r#"{"name":"SALES"}"#))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    assert_eq!(json["field"], "name");

    // In order, the other way round.
    let body = json!({"name": "Sales", "strategy": "in_order", "member_timeout_s": 15,
                      "members": ["admin", "demo"]});
    let (status, _, updated) = app
        .call("PUT", &uri, Some(&admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["strategy"], "in_order");
    assert_eq!(updated["members"], json!(["admin", "demo"]));
    assert_eq!(updated["fallback_code"], Value::Null);
    let (_, _, got) = app.call("GET", &uri, Some(&admin), None).await;
    assert_eq!(got, updated);
    let (_, _, list) = app.call("GET", uri_all, Some(&admin), None).await;
    assert_eq!(list["items"], json!([updated]));

    // Deleting a group leaves its DIDs without a target.
    let did = create_did(
        &app,
        &admin,
        json!({"number": "+14155550101", "route": "group", "group_id": group["id"]}),
    )
    .await;
    let (status, _, _) = app.call("DELETE", &uri, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = app.call("GET", &uri, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, _, did) = app
        .call(
            "GET",
            &format!("/api/v1/dids/{}", did["id"]),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(did["route"], "group");
    assert_eq!(did["group_id"], Value::Null);
}
