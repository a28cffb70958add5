//! `/api/v1/security/bans` and the 429 a banned source gets.

use serde_json::json;

use super::*;

#[tokio::test]
async fn an_admin_bans_lists_and_lifts_and_a_banned_source_gets_429() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, empty) = app.json("GET", "/api/v1/security/bans", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, json!([]));

    let (status, ban) = app
        .json(
            "POST",
            "/api/v1/security/bans",
            &admin,
            Some(json!({"ip": "203.0.113.7", "detail": "seen in the logs"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ban}");
    assert_eq!(ban["reason"], "manual");
    assert_eq!(ban["times"], 1);
    assert_eq!(
        ban["until"].as_i64().unwrap() - ban["since"].as_i64().unwrap(),
        15 * 60
    );
    let (_, list) = app.json("GET", "/api/v1/security/bans", &admin, None).await;
    assert_eq!(list[0]["ip"], "203.0.113.7", "{list}");
    // Agents may not see or change it.
    let (status, _) = app.json("GET", "/api/v1/security/bans", &agent, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Every request from the banned address: 429 with a JSON reason.
    let banned: std::net::SocketAddr = "203.0.113.7:5555".parse().unwrap();
    let mut request = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(banned));
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "source_banned");

    // Bad input: a field error, not a 5xx.
    for bad in ["not-an-ip", "", "203.0.113.300"] {
        let (status, error) = app
            .json(
                "POST",
                "/api/v1/security/bans",
                &admin,
                Some(json!({"ip": bad})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error["field"], "ip");
    }

    let (status, _) = app
        .json("DELETE", "/api/v1/security/bans/203.0.113.7", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .json("DELETE", "/api/v1/security/bans/203.0.113.7", &admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = app.json("GET", "/api/v1/security/bans", &admin, None).await;
    assert_eq!(list, json!([]));
    // The audit log has both.
    let (_, audit) = app
        .json("GET", "/api/v1/audit?entity=source", &admin, None)
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(2), "{audit}");
}

fn spent(
    id: &str,
    account: Option<i64>,
    campaign: Option<i64>,
    cost: i64,
) -> shared::api::CallRecord {
    let now = crate::transport::now().unix_ms;
    shared::api::CallRecord {
        id: id.to_owned(),
        direction: shared::api::CallDirection::Outbound,
        account_id: account.map(shared::ids::AccountId),
        agent: Some("demo".to_owned()),
        caller_id: Some("+14155550101".to_owned()),
        dialled: "+442079460000".to_owned(),
        carrier_id: None,
        carrier: None,
        invite_at: now,
        ringing_at: None,
        answered_at: Some(now),
        ended_at: now + 600_000,
        duration_s: 600,
        final_code: 200,
        final_reason: "OK".to_owned(),
        hangup_by: shared::api::HangupBy::Agent,
        packets_to_carrier: 0,
        bytes_to_carrier: 0,
        packets_from_carrier: 0,
        bytes_from_carrier: 0,
        attempts: Vec::new(),
        estimated_cost: Some(cost),
        campaign_id: campaign,
        destination_country: Some("GB".to_owned()),
        quality: None,
    }
}

/// The fraud limits: the flags' until an admin saves others; bad values a
/// field error; saved ones counted at once against today's stored records,
/// per agent, campaign and gateway, in words.
#[tokio::test]
async fn fraud_limits_are_checked_saved_and_counted_from_the_records() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, settings) = app
        .json("GET", "/api/v1/security/settings", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(
        settings["limits"]["agent_calls_per_minute"], 30,
        "the flag's default"
    );
    assert_eq!(settings["limits"]["agent_daily_spend"], json!(null));
    assert_eq!(settings["ban_after"], 10);
    assert_eq!(settings["home_country"], "US");
    assert_eq!(settings["today"]["reached"], json!([]));
    let (status, _) = app
        .json("GET", "/api/v1/security/settings", &agent, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let mut limits = settings["limits"].clone();
    limits["agent_daily_spend"] = json!(0);
    let (status, error) = app
        .json(
            "PUT",
            "/api/v1/security/limits",
            &admin,
            Some(limits.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["field"], "agent_daily_spend", "{error}");

    // demo spent 1.50 today on a 10-minute
    // call to London, for campaign Spring; someone else 0.70.
    let demo: i64 = sqlx::query_scalar("SELECT id FROM accounts WHERE username = 'demo'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let spring: i64 = sqlx::query_scalar(
        "INSERT INTO campaigns (name, created_at) VALUES ('Spring', 0) RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    crate::db::insert_call_record(&app.db, &spent("a", Some(demo), Some(spring), 15_000))
        .await
        .unwrap();
    crate::db::insert_call_record(&app.db, &spent("b", None, None, 7_000))
        .await
        .unwrap();

    limits["agent_daily_spend"] = json!(10_000);
    limits["campaign_daily_spend"] = json!(20_000);
    limits["gateway_daily_spend"] = json!(20_000);
    limits["agent_international_minutes"] = json!(5);
    limits["international_action"] = json!("alert");
    let (status, saved) = app
        .json(
            "PUT",
            "/api/v1/security/limits",
            &admin,
            Some(limits.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["limits"], limits);
    assert_eq!(saved["today"]["gateway_spend"], 22_000);
    assert_eq!(saved["today"]["gateway_international_s"], 1200);
    let reached: Vec<String> = serde_json::from_value(saved["today"]["reached"].clone()).unwrap();
    assert_eq!(
        reached,
        [
            "demo's calls today are estimated at 1.50, the daily spend cap is 1.00; calls are refused until midnight UTC",
            "All calls today are estimated at 2.20, the daily spend cap is 2.00; calls are refused until midnight UTC",
            "demo's calls to other countries today lasted 10 min, the daily limit is 5 min (alert only: calls go on)",
        ],
        "the campaign (1.50 of 2.00) is under its cap"
    );
    // Saved: the next read shows them, not the flags'.
    let (_, again) = app
        .json("GET", "/api/v1/security/settings", &admin, None)
        .await;
    assert_eq!(again["limits"], limits);

    // After one record, only what it touched is counted; the refusal
    // names the scope.
    let limits: shared::api::FraudLimits = serde_json::from_value(limits).unwrap();
    let record = spent("c", None, Some(spring), 6_000);
    crate::db::insert_call_record(&app.db, &record)
        .await
        .unwrap();
    let today = crate::transport::utc_day(crate::transport::now().unix_ms);
    let reached = crate::limits::reached(&app.db, &limits, "US", today.start, Some(&record))
        .await
        .unwrap();
    let scopes: Vec<_> = reached.iter().map(|r| r.scope).collect();
    use crate::sip::b2bua::blocks::Scope;
    assert_eq!(
        scopes,
        [Scope::Campaign(spring), Scope::Gateway],
        "{reached:?}"
    );
    assert_eq!(
        reached[0].refusal.as_deref(),
        Some(
            "Forbidden (campaign Spring's calls today reached the daily spend cap; an admin can raise it)"
        )
    );
}
