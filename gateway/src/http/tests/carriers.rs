//! `/api/v1/carriers`: inbound sources, where the number is, transports.

use serde_json::{Value, json};

use super::*;

async fn post_carrier(app: &TestApp, admin: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, json) = app
        .call(
            "POST",
            "/api/v1/carriers",
            Some(admin),
            Some(&body.to_string()),
        )
        .await;
    (status, json)
}

#[tokio::test]
async fn inbound_sources_are_checked_and_written_canonically() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, carrier) = post_carrier(
        &app,
        &admin,
        json!({"name": "In", "host": "sip.example.com",
               "inbound_sources": [" 192.0.2.10 ", "198.51.100.0/24", "2001:DB8::1", "", "2001:db8::/32"],
               "inbound_number_from": "to"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    assert_eq!(
        carrier["inbound_sources"],
        json!([
            "192.0.2.10",
            "198.51.100.0/24",
            "2001:db8::1",
            "2001:db8::/32"
        ])
    );
    assert_eq!(carrier["inbound_number_from"], "to");
    let uri = format!("/api/v1/carriers/{}", carrier["id"]);
    let (_, _, got) = app.call("GET", &uri, Some(&admin), None).await;
    assert_eq!(got, carrier);

    // PUT replaces them.
    let body = json!({"name": "In", "host": "sip.example.com",
                      "inbound_sources": ["203.0.113.7"], "inbound_number_from": "diversion"});
    let (status, _, updated) = app
        .call("PUT", &uri, Some(&admin), Some(&body.to_string()))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["inbound_sources"], json!(["203.0.113.7"]));
    assert_eq!(updated["inbound_number_from"], "diversion");

    for bad in [
        "sip.example.com",
        "192.0.2.300",
        "192.0.2.0/33",
        "192.0.2.0/",
        "10.0.0.1-10.0.0.9",
    ] {
        let (status, json) = post_carrier(
            &app,
            &admin,
            json!({"name": "Bad", "host": "192.0.2.1", "inbound_sources": ["192.0.2.1", bad]}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json["field"], "inbound_sources", "{bad}");
        assert!(json["message"].as_str().unwrap().contains(bad), "{json}");
    }
    let (status, json) = post_carrier(
        &app,
        &admin,
        json!({"name": "Twice", "host": "192.0.2.1", "inbound_sources": ["192.0.2.1", "192.0.2.1"]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["field"], "inbound_sources");

    let (status, _, json) = app
        .call(
            "POST",
            "/api/v1/carriers",
            Some(&admin),
            Some(r#"{"name":"X","host":"192.0.2.1","inbound_number_from":"from"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["code"], "invalid_body");
}

#[tokio::test]
async fn older_clients_post_without_the_inbound_fields() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let (status, carrier) = post_carrier(
        &app,
        &admin,
        json!({"name": "Out only", "host": "192.0.2.1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    assert_eq!(carrier["inbound_sources"], json!([]));
    assert_eq!(carrier["inbound_number_from"], "request_uri");
}

#[tokio::test]
async fn tcp_and_tls_carriers_are_accepted_with_a_usable_pinned_ca() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, carrier) = post_carrier(
        &app,
        &admin,
        json!({"name": "Over TCP", "host": "192.0.2.1", "transport": "tcp"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    assert_eq!(carrier["transport"], "tcp");

    let (status, carrier) = post_carrier(
        &app,
        &admin,
        json!({"name": "Over TLS", "host": "sip.example.net", "port": 5061, "transport": "tls"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    assert_eq!(carrier["tls_ca"], Value::Null);

    for (body, why) in [
        (
            json!({"name": "Bad CA", "host": "sip.example.net", "transport": "tls",
                   "tls_ca": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}),
            "not PEM",
        ),
        (
            json!({"name": "No certs", "host": "sip.example.net", "transport": "tls",
                   "tls_ca": "hello"}),
            "no certificate",
        ),
        (
            json!({"name": "CA on UDP", "host": "sip.example.net", "tls_ca": "x"}),
            "TLS carriers only",
        ),
    ] {
        let (status, json) = post_carrier(&app, &admin, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
        assert_eq!(json["field"], "tls_ca", "{json}");
        assert!(
            json["message"].as_str().unwrap().contains(why),
            "{why}: {json}"
        );
    }

    let (status, json) =
        post_carrier(&app, &agent, json!({"name": "Sneaky", "host": "192.0.2.1"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(json["code"], "forbidden");
}

#[tokio::test]
async fn registration_qualify_and_capacity_settings_are_validated() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    let base = json!({"name": "R", "host": "192.0.2.1"});
    let with = |pairs: &[(&str, Value)]| {
        let mut b = base.clone();
        for (k, v) in pairs {
            b[*k] = v.clone();
        }
        b
    };
    for (body, field) in [
        (with(&[("register", json!(true))]), "username"),
        (
            with(&[("register", json!(true)), ("username", json!("u"))]),
            "secret",
        ),
        (
            with(&[("register_expiry_s", json!(59))]),
            "register_expiry_s",
        ),
        (
            with(&[("register_expiry_s", json!(86401))]),
            "register_expiry_s",
        ),
        (
            with(&[("qualify_interval_s", json!(0))]),
            "qualify_interval_s",
        ),
        (with(&[("weight", json!(0))]), "weight"),
        (with(&[("max_channels", json!(0))]), "max_channels"),
        (with(&[("realm", json!("a\"b"))]), "realm"),
        (with(&[("username", json!("has space"))]), "username"),
    ] {
        let (status, json) = post_carrier(&app, &admin, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {json}");
        assert_eq!(json["field"], field, "{body} → {json}");
    }
    let (status, carrier) = post_carrier(
        &app,
        &admin,
        with(&[
            ("register", json!(true)),
            ("username", json!("u")),
            ("secret", json!("s3cret")),
            ("realm", json!("sip.example.com")),
            ("register_expiry_s", json!(600)),
            ("qualify", json!(false)),
            ("qualify_interval_s", json!(60)),
            ("weight", json!(5)),
            ("max_channels", json!(23)),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{carrier}");
    assert!(!carrier.to_string().contains("s3cret"));
    assert_eq!(carrier["has_secret"], true);
    for (k, v) in [
        ("register", json!(true)),
        ("realm", json!("sip.example.com")),
        ("register_expiry_s", json!(600)),
        ("qualify", json!(false)),
        ("qualify_interval_s", json!(60)),
        ("weight", json!(5)),
        ("max_channels", json!(23)),
    ] {
        assert_eq!(carrier[k], v, "{k}");
    }
    // Defaults for clients that send none of them.
    let (_, plain) = post_carrier(&app, &admin, json!({"name": "P", "host": "192.0.2.2"})).await;
    assert_eq!(plain["weight"], 1);
    assert_eq!(plain["max_channels"], Value::Null);
    assert_eq!(plain["register"], false);
    assert_eq!(plain["register_expiry_s"], 3600);
    assert_eq!(plain["qualify"], true);
    assert_eq!(plain["qualify_interval_s"], 30);
    // PUT without a secret keeps the stored one, so registration stays valid.
    let uri = format!("/api/v1/carriers/{}", carrier["id"]);
    let (status, updated) = app
        .json(
            "PUT",
            &uri,
            &admin,
            Some(with(&[("register", json!(true)), ("username", json!("u"))])),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["has_secret"], true);
    // The list is a page.
    let (status, page) = app
        .json("GET", "/api/v1/carriers?limit=1", &admin, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .json(
            "GET",
            &format!("/api/v1/carriers?limit=1&cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    assert_ne!(next["items"][0]["id"], page["items"][0]["id"]);
}

#[tokio::test]
async fn ipv6_hosts_are_stored_canonically_and_malformed_ones_refused() {
    let app = test_app().await;
    let (admin, _) = admin_and_agent(&app).await;
    for (typed, stored) in [
        ("[2001:DB8::10]", "2001:db8::10"),
        (" 2001:db8:0::10 ", "2001:db8::10"),
        ("::1", "::1"),
        ("192.0.2.7", "192.0.2.7"),
    ] {
        let (status, carrier) =
            post_carrier(&app, &admin, json!({"name": typed, "host": typed})).await;
        assert_eq!(status, StatusCode::CREATED, "{typed}: {carrier}");
        assert_eq!(carrier["host"], stored, "{typed}");
    }
    for bad in [
        "[2001:db8::10]:5060",
        "2001:db8:::1",
        "[sip.example.com]",
        "[::1",
    ] {
        let (status, body) = post_carrier(&app, &admin, json!({"name": "Bad", "host": bad})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["field"], "host", "{bad}: {body}");
    }
}
