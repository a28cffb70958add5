//! CANCEL while the demo carrier rings: 200 to the CANCEL, 487 to the
//! INVITE, and the call is never answered.

#[path = "demo-carrier-support/mod.rs"]
mod support;

use std::time::Duration;

use support::{Uac, header, status};

const ANSWER_DELAY: Duration = Duration::from_millis(800);

#[tokio::test]
async fn cancel_while_ringing_gets_487() {
    let carrier = support::carrier(ANSWER_DELAY).await;
    let mut uac = Uac::new(carrier.sip_addr, "+15550100").await;
    uac.send(&uac.invite()).await;
    uac.expect(100).await;
    let ringing = uac.expect(180).await;
    let tag = header(&ringing, "To").expect("180 has a To");

    uac.send(&uac.same_transaction("CANCEL")).await;
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            uac.recv(Duration::from_secs(2))
                .await
                .expect("answers to CANCEL and INVITE"),
        );
    }
    answers.sort_by_key(|m| header(m, "CSeq"));
    let (cancel_ok, terminated) = (&answers[0], &answers[1]);
    assert_eq!(header(cancel_ok, "CSeq").as_deref(), Some("1 CANCEL"));
    assert_eq!(status(cancel_ok), Some(200), "{cancel_ok}");
    assert_eq!(header(terminated, "CSeq").as_deref(), Some("1 INVITE"));
    assert_eq!(status(terminated), Some(487), "{terminated}");
    assert_eq!(
        header(terminated, "To"),
        Some(tag),
        "the 487 carries the tag of the 180"
    );

    uac.send(&uac.same_transaction("ACK")).await;
    // Past the answer delay: no 200 ever comes (at most a 487 that crossed
    // the ACK).
    tokio::time::sleep(ANSWER_DELAY).await;
    while let Some(m) = uac.recv(Duration::from_millis(700)).await {
        assert_eq!(status(&m), Some(487), "only a late 487 copy, got:\n{m}");
    }
    carrier.shutdown().await;
}
