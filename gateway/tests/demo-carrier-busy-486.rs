//! The demo carrier refuses numbers ending in 486 with 486 Busy Here, and
//! resends it until the ACK like any RFC 3261 UAS.

#[path = "demo-carrier-support/mod.rs"]
mod support;

use std::time::Duration;

use support::{Uac, header};

#[tokio::test]
async fn a_number_ending_in_486_is_busy() {
    let carrier = support::carrier(Duration::from_millis(100)).await;
    let mut uac = Uac::new(carrier.sip_addr, "+1-555-0100-486").await;
    uac.send(&uac.invite()).await;
    let busy = uac.expect(486).await;
    assert!(busy.starts_with("SIP/2.0 486 Busy Here\r\n"), "{busy}");
    assert!(
        header(&busy, "To").is_some_and(|to| to.contains(";tag=")),
        "{busy}"
    );
    assert_eq!(header(&busy, "CSeq").as_deref(), Some("1 INVITE"));

    // Not acknowledged yet: the carrier resends it (timer G, T1 = 500 ms).
    let again = uac
        .recv(Duration::from_secs(2))
        .await
        .expect("the 486 is resent until the ACK");
    assert_eq!(again, busy, "the same bytes");

    uac.send(&uac.same_transaction("ACK")).await;
    // Drain a retransmission that crossed the ACK, then nothing more.
    let _ = uac.recv(Duration::from_millis(100)).await;
    assert_eq!(
        uac.recv(Duration::from_millis(2500)).await,
        None,
        "the ACK stopped the retransmissions"
    );
    carrier.shutdown().await;
}
