//! RFC 7118 §4: the SIP WebSocket at `/ws` must be opened with the `sip`
//! subprotocol; with it, SIP works over the socket (OPTIONS → 200, with the
//! Via stamped `received=`, RFC 3261 §18.2.1).

use std::time::Duration;

use anyhow::{Result, bail, ensure};
use e2e::Gateway;
use e2e::sip::{OptionsRequest, Upgrade, WsPeer, unique, ws_upgrade};

const ANSWER: Duration = Duration::from_secs(5);

#[tokio::test]
async fn upgrade_without_the_sip_subprotocol_is_refused() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    for offered in [&[][..], &["chat"][..], &["sips", "siplike"][..]] {
        match ws_upgrade(&gateway.ws_url(), offered).await? {
            Upgrade::Refused { status, body } => ensure!(
                (400..500).contains(&status),
                "upgrade offering {offered:?} refused with {status}, not a 4xx: {body}"
            ),
            Upgrade::Accepted { protocol, .. } => {
                bail!("upgrade offering {offered:?} was accepted (protocol {protocol:?})")
            }
        }
    }
    // Not an upgrade at all.
    let plain = gateway.get("/ws").await?;
    ensure!(
        (400..500).contains(&plain.status),
        "GET /ws without an upgrade answered {}: {}",
        plain.status,
        plain.text()
    );
    gateway.check_alive()
}

#[tokio::test]
async fn options_over_a_sip_websocket_gets_200() -> Result<()> {
    let mut gateway = Gateway::start().await?;
    let mut peer = match ws_upgrade(&gateway.ws_url(), &["chat", "sip"]).await? {
        Upgrade::Accepted { peer, protocol } => {
            ensure!(
                protocol.as_deref() == Some("sip"),
                "the gateway chose subprotocol {protocol:?}, not sip"
            );
            peer
        }
        Upgrade::Refused { status, body } => bail!("upgrade with sip refused: {status} {body}"),
    };

    // A browser's Via names a made-up host (RFC 7118 §5.2), so the gateway
    // must say where the request really came from.
    let host = format!("{}.invalid", unique("e2e"));
    for cseq in 1..=2 {
        let mut request = OptionsRequest::new("WS", host.clone(), gateway.http.to_string());
        request.cseq = cseq;
        let response = peer.exchange(&request.to_bytes(), ANSWER).await?;
        let text = &response.text;
        ensure!(response.status == 200, "OPTIONS answered:\n{text}");
        let via = response.header("Via").unwrap_or_default();
        ensure!(
            via.contains(&format!("branch={}", request.branch)),
            "the response's Via lost the branch:\n{text}"
        );
        ensure!(
            via.contains("received=127.0.0.1"),
            "the response's Via has no received=127.0.0.1:\n{text}"
        );
        ensure!(
            response.header("Call-ID").as_deref() == Some(request.call_id.as_str()),
            "Call-ID not echoed:\n{text}"
        );
        ensure!(
            response.header("CSeq").as_deref() == Some(format!("{cseq} OPTIONS").as_str()),
            "CSeq not echoed:\n{text}"
        );
        ensure!(
            response
                .header("From")
                .is_some_and(|f| f.contains(&format!("tag={}", request.from_tag))),
            "From tag not echoed:\n{text}"
        );
        ensure!(
            response.header("To").is_some_and(|t| t.contains("tag=")),
            "To without a tag:\n{text}"
        );
    }
    peer.close().await;

    // A plain sip-only offer works too.
    let mut again = WsPeer::connect(&gateway.ws_url()).await?;
    let request = OptionsRequest::new("WS", host, gateway.http.to_string());
    let response = again.exchange(&request.to_bytes(), ANSWER).await?;
    ensure!(
        response.status == 200,
        "OPTIONS answered:\n{}",
        response.text
    );
    again.close().await;
    gateway.check_alive()
}
