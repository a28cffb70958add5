//! `/api/v1/calls` filters and pagination, `/api/v1/calls.csv`, and
//! `/api/v1/carriers/{id}/channels`.

use serde_json::json;
use shared::api::{CallDirection, CallRecord, HangupBy};
use shared::ids::{AccountId, CarrierId};

use super::*;

fn record(id: &str, agent: Option<(i64, &str)>, at: i64, secs: i64) -> CallRecord {
    CallRecord {
        id: id.to_owned(),
        direction: CallDirection::Outbound,
        account_id: agent.map(|a| a.0).map(AccountId),
        agent: agent.map(|a| a.1.to_owned()),
        caller_id: Some("+14155550101".to_owned()),
        dialled: "+442079460000".to_owned(),
        carrier_id: None,
        carrier: None,
        invite_at: at,
        ringing_at: None,
        answered_at: Some(at + 1000),
        ended_at: at + secs * 1000,
        duration_s: secs,
        final_code: 200,
        final_reason: "OK".to_owned(),
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

/// Ids of a page's records.
fn ids(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn call_records_filter_paginate_and_export() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let demo = crate::db::account_by_username(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let admin_account = crate::db::account_by_username(&app.db, "admin")
        .await
        .unwrap()
        .unwrap();
    let (status, carrier) = app
        .json(
            "POST",
            "/api/v1/carriers",
            &admin,
            Some(json!({"name": "T", "host": "192.0.2.1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let carrier_id = carrier["id"].as_i64().unwrap();

    let mut answered = record("c1", Some((demo.id, "demo")), 1_000_000, 60);
    answered.carrier_id = Some(CarrierId(carrier_id));
    answered.carrier = Some("T".to_owned());
    let mut busy = record("c2", Some((demo.id, "demo")), 2_000_000, 0);
    busy.answered_at = None;
    busy.final_code = 486;
    busy.final_reason = "Busy, \"really\"".to_owned();
    let mut missed = record("c3", Some((demo.id, "demo")), 3_000_000, 0);
    missed.direction = CallDirection::Inbound;
    missed.answered_at = None;
    missed.dialled = "+14155550150".to_owned();
    missed.caller_id = Some("+12125550100".to_owned());
    missed.final_code = 480;
    let mut failed = record("c4", Some((admin_account.id, "admin")), 4_000_000, 0);
    failed.answered_at = None;
    failed.final_code = 503;
    let mut no_answer = record("c5", Some((admin_account.id, "admin")), 5_000_000, 0);
    no_answer.answered_at = None;
    no_answer.final_code = 487;
    for r in [&answered, &busy, &missed, &failed, &no_answer] {
        crate::db::insert_call_record(&app.db, r).await.unwrap();
    }

    let check = |query: &'static str, expect: &'static [&'static str]| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, page) = app
                .json("GET", &format!("/api/v1/calls?{query}"), &admin, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{query}: {page}");
            assert_eq!(ids(&page), expect, "{query}");
        }
    };
    check("", &["c5", "c4", "c3", "c2", "c1"]).await;
    check("outcome=answered", &["c1"]).await;
    check("outcome=busy", &["c2"]).await;
    check("outcome=missed", &["c3"]).await;
    check("outcome=failed", &["c4"]).await;
    check("outcome=no_answer", &["c5"]).await;
    check("direction=inbound", &["c3"]).await;
    check("agent=ADMIN", &["c5", "c4"]).await;
    check("from=2000000&to=4000000", &["c3", "c2"]).await;
    check("did=%2B14155550150", &["c3"]).await;
    // A `+` left unencoded reads as a space; it still works.
    check("did=+14155550101", &["c5", "c4", "c2", "c1"]).await;
    check("agent=&outcome=", &["c5", "c4", "c3", "c2", "c1"]).await;
    let (status, page) = app
        .json(
            "GET",
            &format!("/api/v1/calls?carrier_id={carrier_id}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&page), ["c1"]);

    for (query, field) in [
        ("outcome=lost", "outcome"),
        ("direction=up", "direction"),
        ("from=yesterday", "from"),
        ("to=1.5", "to"),
        ("carrier_id=x", "carrier_id"),
        ("did=abc", "did"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=zzz", "cursor"),
    ] {
        let (status, json) = app
            .json("GET", &format!("/api/v1/calls?{query}"), &admin, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {json}");
        assert_eq!(json["field"], field, "{query}: {json}");
    }

    // Pages of two, following the cursor.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/calls?limit=2".to_owned();
    loop {
        let (_, page) = app.json("GET", &uri, &admin, None).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/calls?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["c5", "c4", "c3", "c2", "c1"]);

    // Agents see their own calls only, whatever they ask for.
    let (_, page) = app
        .json("GET", "/api/v1/calls?agent=admin", &agent, None)
        .await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let (_, page) = app.json("GET", "/api/v1/calls", &agent, None).await;
    assert_eq!(ids(&page), ["c3", "c2", "c1"]);

    // CSV: the same filters, a header row, escaped fields.
    let (status, headers, body) = app
        .raw(
            "GET",
            "/api/v1/calls.csv?agent=demo",
            &[("cookie", &admin)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = std::str::from_utf8(&body).unwrap();
    let rows = crate::http::csv::parse(text, 100).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].fields[0], "id");
    assert_eq!(rows[0].fields[2], "outcome");
    let c2 = rows.iter().find(|r| r.fields[0] == "c2").unwrap();
    assert_eq!(c2.fields[2], "busy");
    assert_eq!(c2.fields[14], "Busy, \"really\"");
    assert!(text.contains("\"Busy, \"\"really\"\"\""), "{text}");
    let (_, _, body) = app
        .raw("GET", "/api/v1/calls.csv", &[("cookie", &agent)], None)
        .await;
    assert_eq!(
        crate::http::csv::parse(std::str::from_utf8(&body).unwrap(), 100)
            .unwrap()
            .len(),
        4
    );
    let (status, _, _) = app
        .raw(
            "GET",
            "/api/v1/calls.csv?outcome=x",
            &[("cookie", &admin)],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn channels_report_live_use_the_weekly_peak_and_a_recommendation() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, carrier) = app
        .json(
            "POST",
            "/api/v1/carriers",
            &admin,
            Some(json!({"name": "T", "host": "192.0.2.1", "max_channels": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    let id = carrier["id"].as_i64().unwrap();
    let now = crate::transport::now().unix_ms;
    // Three calls overlap on the carrier (two of them one agent's); an old
    // call outside the window is ignored.
    let spans = [
        ("a", Some((1, "demo")), now - 60_000, 50),
        ("b", Some((1, "demo")), now - 50_000, 30),
        ("c", Some((2, "admin")), now - 40_000, 10),
        ("d", None, now - 20 * 24 * 3600 * 1000, 3600),
    ];
    for (rid, agent, at, secs) in spans {
        let mut r = record(rid, agent, at, secs);
        r.carrier_id = Some(CarrierId(id));
        crate::db::insert_call_record(&app.db, &r).await.unwrap();
    }
    app.live.publish(vec![shared::api::LiveCall {
        id: "live-1".to_owned(),
        direction: CallDirection::Outbound,
        agent: Some("demo".to_owned()),
        caller_id: None,
        dialled: "+14155550100".to_owned(),
        carrier_id: Some(CarrierId(id)),
        carrier: Some("T".to_owned()),
        state: shared::api::LiveCallState::Connected,
        since_ms: now,
    }]);
    let (status, usage) = app
        .json(
            "GET",
            &format!("/api/v1/carriers/{id}/channels"),
            &admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(
        usage,
        json!({"carrier_id": id, "in_use": 1, "max_channels": 30, "peak_7d": 3, "recommended": 4})
    );
    let (status, _) = app
        .json("GET", "/api/v1/carriers/999/channels", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Each carrier's recommendation is its own peak × 1.2, not one figure for
/// all: calls on other carriers, or on none, do not count.
#[tokio::test]
async fn each_carrier_is_advised_from_its_own_peak() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let mut ids = Vec::new();
    for (name, max) in [("Busy", 2), ("Quiet", 10)] {
        let (status, carrier) = app
            .json(
                "POST",
                "/api/v1/carriers",
                &admin,
                Some(json!({"name": name, "host": "192.0.2.1", "max_channels": max})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{carrier}");
        ids.push(carrier["id"].as_i64().unwrap());
    }
    let (busy, quiet) = (ids[0], ids[1]);
    let now = crate::transport::now().unix_ms;
    // Busy: five calls, four of them at once in [-45 s, -40 s). Quiet: two
    // calls, never at once, both while Busy peaks. Three more calls at the
    // same moment on no carrier (refused before one was chosen).
    let spans = [
        ("b1", Some(busy), now - 60_000, 30),
        ("b2", Some(busy), now - 50_000, 20),
        ("b3", Some(busy), now - 45_000, 20),
        ("b4", Some(busy), now - 48_000, 8),
        ("b5", Some(busy), now - 5_000, 2),
        ("q1", Some(quiet), now - 46_000, 2),
        ("q2", Some(quiet), now - 44_000, 3),
        ("n1", None, now - 44_000, 3),
        ("n2", None, now - 44_000, 3),
        ("n3", None, now - 44_000, 3),
    ];
    for (rid, carrier, at, secs) in spans {
        let mut r = record(rid, Some((1, "demo")), at, secs);
        r.carrier_id = carrier.map(CarrierId);
        crate::db::insert_call_record(&app.db, &r).await.unwrap();
    }
    let usage = |id: i64| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, body) = app
                .json(
                    "GET",
                    &format!("/api/v1/carriers/{id}/channels"),
                    &admin,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_value::<shared::api::ChannelUsage>(body).unwrap()
        }
    };
    let busy_usage = usage(busy).await;
    assert_eq!(
        (
            busy_usage.peak_7d,
            busy_usage.recommended,
            busy_usage.max_channels
        ),
        (4, 5, Some(2))
    );
    // Two channels where five are advised: the page warns.
    assert!(busy_usage.below_recommended());
    let quiet_usage = usage(quiet).await;
    assert_eq!(
        (
            quiet_usage.peak_7d,
            quiet_usage.recommended,
            quiet_usage.max_channels
        ),
        (1, 2, Some(10))
    );
    assert!(!quiet_usage.below_recommended());
    // Agents do not read channel use.
    let (status, body) = app
        .json(
            "GET",
            &format!("/api/v1/carriers/{busy}/channels"),
            &agent,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden");
}

#[tokio::test]
async fn carrier_status_is_what_the_sip_core_reported() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, carrier) = app
        .json(
            "POST",
            "/api/v1/carriers",
            &admin,
            Some(json!({"name": "T", "host": "192.0.2.1", "qualify": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    let id = carrier["id"].as_i64().unwrap();
    let path = format!("/api/v1/carriers/{id}/status");
    let (status, body) = app.json("GET", &path, &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"carrier_id": id, "qualify": null, "registration": null, "dns": null})
    );
    // A host name that does not resolve (the test's name server is
    // silent) is shown with the reason, and listed.
    let (status, named) = app
        .json(
            "POST",
            "/api/v1/carriers",
            &admin,
            Some(json!({"name": "Named", "host": "sip.example.com", "qualify": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    let named_id = named["id"].as_i64().unwrap();
    let (_, body) = app
        .json(
            "GET",
            &format!("/api/v1/carriers/{named_id}/status"),
            &admin,
            None,
        )
        .await;
    assert_eq!(body["dns"]["state"], "failed", "{body}");
    assert!(
        body["dns"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("sip.example.com")),
        "{body}"
    );
    let (_, list) = app
        .json("GET", "/api/v1/carriers/status", &admin, None)
        .await;
    assert!(
        list["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|s| s["carrier_id"] == named_id)),
        "{list}"
    );
    let (status, _) = app.json("GET", &path, &agent, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .json("GET", "/api/v1/carriers/999/status", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
