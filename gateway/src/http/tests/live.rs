//! `GET /api/v1/live`: Server-Sent Events of the calls in progress.

use http_body_util::BodyExt;
use shared::api::{CallDirection, LiveCall, LiveCallState};
use shared::ids::CarrierId;

use super::*;

/// The next SSE event's text (skipping keep-alive comments).
async fn next_event(body: &mut Body) -> String {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("the stream is open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            let text = String::from_utf8(data.to_vec()).unwrap();
            if text.contains("data:") {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn live_calls_stream_as_server_sent_events() {
    let app = test_app().await;
    let (admin, agent) = admin_and_agent(&app).await;
    let (status, _, _) = app
        .raw("GET", "/api/v1/live", &[("cookie", &agent)], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let request = Request::builder()
        .uri("/api/v1/live")
        .header(header::COOKIE, &admin)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    let first = next_event(&mut body).await;
    assert!(first.contains("event: calls"), "{first}");
    assert!(first.contains("data: []"), "{first}");

    let call = LiveCall {
        id: "call-1".to_owned(),
        direction: CallDirection::Inbound,
        agent: Some("demo".to_owned()),
        caller_id: Some("+12125550100".to_owned()),
        dialled: "+14155550150".to_owned(),
        carrier_id: Some(CarrierId(1)),
        carrier: Some("Demo carrier".to_owned()),
        state: LiveCallState::Ringing,
        since_ms: 1,
    };
    app.live.upsert(call.clone());
    let second = next_event(&mut body).await;
    let data = second
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    let calls: Vec<LiveCall> = serde_json::from_str(data).unwrap();
    assert_eq!(calls, vec![call]);

    app.live.remove("call-1");
    let third = next_event(&mut body).await;
    assert!(third.contains("data: []"), "{third}");
}
