//! `/api/v1/quality`: rows kept per carrier as records are stored, the
//! report over a range, thresholds and the alert they raise once an hour.

use serde_json::json;
use shared::api::{
    CallDirection, CallQuality, CallRecord, HangupBy, LegQuality, QualityReport, StreamQuality,
};
use shared::ids::CarrierId;

use super::*;

async fn new_carrier(app: &TestApp, admin: &str, name: &str, max_channels: Option<u32>) -> i64 {
    let (status, carrier) = app
        .json(
            "POST",
            "/api/v1/carriers",
            admin,
            Some(json!({"name": name, "host": "192.0.2.1", "max_channels": max_channels})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    carrier["id"].as_i64().unwrap()
}

/// A call on carrier `id` at `at_ms`: answered after 1 s for 60 s with
/// `lost` of 1000 packets lost, or refused with `code`.
fn call(rec: &str, id: i64, name: &str, at_ms: i64, code: u16, lost: i64) -> CallRecord {
    let answered = code == 200;
    let leg = media_leg(lost);
    CallRecord {
        id: rec.to_owned(),
        direction: CallDirection::Outbound,
        account_id: None,
        agent: None,
        caller_id: None,
        dialled: "+442079460000".to_owned(),
        carrier_id: Some(CarrierId(id)),
        carrier: Some(name.to_owned()),
        invite_at: at_ms,
        ringing_at: Some(at_ms + 300),
        answered_at: answered.then_some(at_ms + 1000),
        ended_at: at_ms + if answered { 61_000 } else { 1000 },
        duration_s: if answered { 60 } else { 0 },
        final_code: code,
        final_reason: String::new(),
        hangup_by: HangupBy::Agent,
        packets_to_carrier: 0,
        bytes_to_carrier: 0,
        packets_from_carrier: 0,
        bytes_from_carrier: 0,
        attempts: Vec::new(),
        estimated_cost: None,
        campaign_id: None,
        destination_country: None,
        quality: answered.then_some(CallQuality {
            carrier: Some(leg),
            browser: None,
        }),
    }
}

/// A carrier leg with `lost` of 1000 packets lost, 5 ms jitter, 40 ms RTT.
fn media_leg(lost: i64) -> LegQuality {
    let received = StreamQuality {
        packets: 1000 - lost,
        lost,
        jitter_us: 5000,
    };
    crate::media::rtcp::leg(received, None, Some(std::time::Duration::from_millis(40)))
}

async fn store(app: &TestApp, record: &CallRecord) {
    crate::db::insert_call_record(&app.db, record)
        .await
        .unwrap();
    crate::db::record_carrier_quality(&app.db, record)
        .await
        .unwrap();
}

#[tokio::test]
async fn carriers_are_compared_and_a_bad_hour_alerts_once() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let good = new_carrier(&app, &admin, "Good", None).await;
    let bad = new_carrier(&app, &admin, "Bad", Some(1)).await;
    let now_ms = crate::transport::now().unix_ms;
    // Good: 4 answered calls, clean. Bad: 1 answered with 10 % loss, 3
    // failed (503), two of them at once with the answered one.
    for i in 0..4 {
        store(
            &app,
            &call(
                &format!("g{i}"),
                good,
                "Good",
                now_ms - 600_000 + i * 100_000,
                200,
                0,
            ),
        )
        .await;
    }
    store(&app, &call("b0", bad, "Bad", now_ms - 300_000, 200, 100)).await;
    for i in 1..4 {
        store(
            &app,
            &call(
                &format!("b{i}"),
                bad,
                "Bad",
                now_ms - 300_000 + i * 100,
                503,
                0,
            ),
        )
        .await;
    }

    let (status, body) = app
        .json("GET", "/api/v1/quality/carriers", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: QualityReport = serde_json::from_value(body).unwrap();
    let of = |id: i64| {
        report
            .carriers
            .iter()
            .find(|c| c.carrier_id.0 == id)
            .unwrap()
            .clone()
    };
    let (g, b) = (of(good), of(bad));
    assert_eq!((g.calls, g.asr, b.calls, b.asr), (4, 100.0, 4, 25.0));
    assert!(g.mos_avg.unwrap() > b.mos_avg.unwrap() + 0.3, "{g:?} {b:?}");
    assert!((b.loss_avg.unwrap() - 10.0).abs() < 1e-9);
    assert_eq!(g.pdd_p50_ms, Some(300));
    assert_eq!(g.minutes, 4.0);
    // Bad had 4 calls at once against a limit of 1: 5 advised.
    assert_eq!(
        (b.peak_concurrent, b.advised_channels, b.channel_limit),
        (4, 5, Some(1))
    );
    assert_eq!(
        report.worst_calls.first().map(|w| w.record_id.as_str()),
        Some("b0")
    );
    assert!(report.rows.iter().all(|r| r.bucket_start % 3600 == 0));
    // The record keeps its figures and links from the worst calls.
    let (status, record) = app.json("GET", "/api/v1/calls/b0", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["quality"]["carrier"]["received"]["lost"], 100);
    let (status, _) = app.json("GET", "/api/v1/calls/b0", &agent, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not the agent's call");
    let (status, _) = app
        .json("GET", "/api/v1/quality/carriers", &agent, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Day buckets hold the same calls.
    let (_, body) = app
        .json("GET", "/api/v1/quality/carriers?bucket=day", &admin, None)
        .await;
    let days: QualityReport = serde_json::from_value(body).unwrap();
    assert!(days.rows.iter().all(|r| r.bucket_start % 86_400 == 0));
    assert_eq!(days.rows.iter().map(|r| r.calls).sum::<i64>(), 8);

    // Bad input is refused with the field.
    for (q, field) in [
        ("bucket=week", "bucket"),
        ("from=x", "from"),
        ("from=10&to=5", "from"),
    ] {
        let (status, body) = app
            .json(
                "GET",
                &format!("/api/v1/quality/carriers?{q}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert_eq!(body["field"], field, "{q}: {body}");
    }
    let (status, body) = app
        .json(
            "PUT",
            &format!("/api/v1/quality/thresholds/{bad}"),
            &admin,
            Some(json!({"min_mos": 7})),
        )
        .await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("min_mos"))
    );
    let (status, _) = app
        .json(
            "PUT",
            "/api/v1/quality/thresholds/999",
            &admin,
            Some(json!({"min_asr": 30})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A threshold: ASR under 30 % or MOS under 4.0 over the last hour.
    let (status, body) = app
        .json(
            "PUT",
            &format!("/api/v1/quality/thresholds/{bad}"),
            &admin,
            Some(json!({"min_mos": 4.0, "min_asr": 30, "min_calls": 3})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Audited, with the values set.
    let (_, audit) = app.json("GET", "/api/v1/audit?limit=5", &admin, None).await;
    let entry = &audit["items"][0];
    assert_eq!(entry["entity"], "quality_threshold", "{audit}");
    let set: serde_json::Value =
        serde_json::from_str(entry["new_json"].as_str().unwrap_or_default()).unwrap();
    assert_eq!(
        (set["min_asr"].as_f64(), set["min_calls"].as_i64()),
        (Some(30.0), Some(3)),
        "{audit}"
    );
    let last = call("b4", bad, "Bad", now_ms - 1000, 503, 0);
    store(&app, &last).await;
    let why = crate::db::quality_alert(&app.db, &last, now_ms / 1000)
        .await
        .unwrap()
        .expect("the bad carrier crosses its threshold");
    assert!(
        why.starts_with("carrier Bad: MOS") && why.contains("ASR 20 % < 30 %"),
        "{why}"
    );
    // Once an hour.
    assert_eq!(
        crate::db::quality_alert(&app.db, &last, now_ms / 1000)
            .await
            .unwrap(),
        None
    );
    // The good carrier has no threshold: never.
    let fine = call("g9", good, "Good", now_ms - 1000, 200, 0);
    store(&app, &fine).await;
    assert_eq!(
        crate::db::quality_alert(&app.db, &fine, now_ms / 1000)
            .await
            .unwrap(),
        None
    );
}
