//! `/api/v1/carriers/{id}/rates` and the estimated cost it puts on call
//! records.

use serde_json::{Value, json};
use shared::api::{CallDirection, CallRecord, HangupBy};
use shared::ids::CarrierId;

use super::*;

async fn put_rates(app: &TestApp, who: &str, carrier: i64, csv: &str) -> (StatusCode, Value) {
    let (status, _, json) = app
        .call_typed(
            "PUT",
            &format!("/api/v1/carriers/{carrier}/rates"),
            Some(who),
            Some(("text/csv", csv)),
        )
        .await;
    (status, json)
}

async fn new_carrier(app: &TestApp, admin: &str, name: &str) -> i64 {
    let (status, carrier) = app
        .json(
            "POST",
            "/api/v1/carriers",
            admin,
            Some(json!({"name": name, "host": "192.0.2.1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    carrier["id"].as_i64().unwrap()
}

fn record(id: &str, carrier: i64, dialled: &str, answered_s: Option<i64>) -> CallRecord {
    CallRecord {
        id: id.to_owned(),
        direction: CallDirection::Outbound,
        account_id: None,
        agent: None,
        caller_id: Some("+14155550101".to_owned()),
        dialled: dialled.to_owned(),
        carrier_id: Some(CarrierId(carrier)),
        carrier: Some("R".to_owned()),
        invite_at: 1_000_000,
        ringing_at: None,
        answered_at: answered_s.map(|_| 1_001_000),
        ended_at: 1_001_000 + answered_s.unwrap_or(0) * 1000,
        duration_s: answered_s.unwrap_or(0),
        final_code: if answered_s.is_some() { 200 } else { 486 },
        final_reason: "x".to_owned(),
        hangup_by: HangupBy::Agent,
        packets_to_carrier: 0,
        bytes_to_carrier: 0,
        packets_from_carrier: 0,
        bytes_from_carrier: 0,
        attempts: Vec::new(),
        estimated_cost: None,
        campaign_id: None,
        destination_country: None,
        quality: None,
    }
}

#[tokio::test]
async fn bad_csv_is_refused_with_line_numbers_and_saves_nothing() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let id = new_carrier(&app, &admin, "R").await;

    let (status, body) = put_rates(&app, &admin, id, "prefix,price\n44,0.01\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = put_rates(
        &app,
        &admin,
        id,
        "prefix,price_per_minute\n33,0.02\n3x,0.01\n1,abc\n49,0.005\n",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_csv");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("line 3: prefix"), "{message}");
    assert!(message.contains("line 4: price"), "{message}");
    assert!(!message.contains("line 5"), "{message}");
    // The table is unchanged.
    let (_, list) = app
        .json("GET", &format!("/api/v1/carriers/{id}/rates"), &admin, None)
        .await;
    assert_eq!(
        list["items"],
        json!([{"prefix": "44", "price_per_minute": 100, "description": null}])
    );

    // Not CSV, not an admin, no such carrier.
    let (status, _, _) = app
        .call_typed(
            "PUT",
            &format!("/api/v1/carriers/{id}/rates"),
            Some(&admin),
            Some(("application/json", "{}")),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = put_rates(&app, &agent, id, "44,0.01\n").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put_rates(&app, &admin, 999_999, "44,0.01\n").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .json("GET", "/api/v1/carriers/999999/rates", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rates_replace_list_audit_and_go_with_the_carrier() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let id = new_carrier(&app, &admin, "R").await;
    let (status, body) = put_rates(
        &app,
        &admin,
        id,
        "44,0.0100,UK\n+4420,0.005,London\n1,0.002\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, list) = app
        .json("GET", &format!("/api/v1/carriers/{id}/rates"), &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        list["items"],
        json!([
            {"prefix": "1", "price_per_minute": 20, "description": null},
            {"prefix": "44", "price_per_minute": 100, "description": "UK"},
            {"prefix": "4420", "price_per_minute": 50, "description": "London"},
        ])
    );
    // A second import replaces the whole table.
    let (status, _) = put_rates(&app, &admin, id, "33,1\n").await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app
        .json("GET", &format!("/api/v1/carriers/{id}/rates"), &admin, None)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let (_, audit) = app
        .json("GET", "/api/v1/audit?entity=carrier_rates", &admin, None)
        .await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert_eq!(entries[0]["new_json"], r#"{"rows":1}"#, "{audit}");
    assert_eq!(entries[0]["old_json"], r#"{"rows":3}"#, "{audit}");

    let (status, _, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/carriers/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM carrier_rates")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn stored_records_get_the_longest_prefix_cost() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let id = new_carrier(&app, &admin, "R").await;
    let other = new_carrier(&app, &admin, "Unrated").await;
    let (status, _) = put_rates(&app, &admin, id, "44,0.0100\n4420,0.0050\n").await;
    assert_eq!(status, StatusCode::OK);

    for r in [
        // 61 s at 0.0050/min: 50 × 61 / 60 = 50.83 → 51.
        record("london", id, "+442079460000", Some(61)),
        // 61 s at 0.0100/min → 102.
        record("mobile", id, "+447700900123", Some(61)),
        record("busy", id, "+447700900123", None),
        record("france", id, "+33123456789", Some(30)),
        record("unrated", other, "+442079460000", Some(30)),
    ] {
        crate::db::insert_call_record(&app.db, &r).await.unwrap();
    }
    let mut inbound = record("inbound", id, "+442079460000", Some(30));
    inbound.direction = CallDirection::Inbound;
    crate::db::insert_call_record(&app.db, &inbound)
        .await
        .unwrap();

    let (status, page) = app.json("GET", "/api/v1/calls", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let cost = |id: &str| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["estimated_cost"]
            .clone()
    };
    assert_eq!(cost("london"), json!(51));
    assert_eq!(cost("mobile"), json!(102));
    assert_eq!(cost("busy"), json!(0));
    assert_eq!(cost("france"), Value::Null);
    assert_eq!(cost("unrated"), Value::Null);
    assert_eq!(cost("inbound"), Value::Null);

    let (status, _, body) = app
        .raw("GET", "/api/v1/calls.csv", &[("cookie", &admin)], None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = std::str::from_utf8(&body).unwrap();
    let header = csv.lines().next().unwrap();
    // The cost is followed by the ten quality columns.
    assert!(header.contains(",estimated_cost,pdd_ms,"), "{header}");
    let cost_field = |line: &str| line.rsplit(',').nth(10).map(str::to_owned);
    let london = csv.lines().find(|l| l.starts_with("london,")).unwrap();
    assert_eq!(cost_field(london).as_deref(), Some("0.0051"), "{london}");
    let france = csv.lines().find(|l| l.starts_with("france,")).unwrap();
    assert_eq!(cost_field(france).as_deref(), Some(""), "{france}");
}
