//! Matching requests to server transactions (RFC 3261 §17.2.3) and
//! responses to client transactions (§17.1.3).
#![allow(clippy::unwrap_used)]

mod tx_support;

use shared::sip::transaction::{KeyError, TransactionKey, ack_for_non_2xx, cancel_for};
use tx_support::{invite, parse_request, request, request_with, response};

fn key(request: &rsip::Request) -> TransactionKey {
    TransactionKey::for_request(request).unwrap()
}

#[test]
fn retransmission_matches_and_another_branch_does_not() {
    assert_eq!(key(&invite("z9hG4bKa")), key(&invite("z9hG4bKa")));
    assert_ne!(key(&invite("z9hG4bKa")), key(&invite("z9hG4bKb")));
}

#[test]
fn ack_for_a_non_2xx_matches_the_invite_but_the_ack_for_a_2xx_does_not() {
    let invite = invite("z9hG4bKinv");
    let ack = ack_for_non_2xx(&invite, &response(&invite, 486, "uas")).unwrap();
    assert_eq!(key(&ack), key(&invite));
    // §13.2.2.4: the ACK for a 2xx has a branch of its own.
    let ack_2xx = request_with("ACK", "z9hG4bKnew", "uas", 1);
    assert_ne!(key(&ack_2xx), key(&invite));
}

#[test]
fn cancel_is_its_own_transaction_but_finds_the_invite_it_cancels() {
    let invite = invite("z9hG4bKinv");
    let cancel = cancel_for(&invite).unwrap();
    assert_ne!(key(&cancel), key(&invite));
    assert_eq!(
        TransactionKey::for_cancel_target(&cancel).unwrap(),
        key(&invite)
    );
}

#[test]
fn same_branch_from_another_sent_by_is_another_transaction() {
    let a = invite("z9hG4bKsame");
    let text = a.to_string().replace(
        "pc33.atlanta.example.com:5060;",
        "pc34.atlanta.example.com:5060;",
    );
    let b = parse_request(&text);
    assert_ne!(key(&a), key(&b));
    // Host names compare without regard to case.
    let upper = parse_request(&a.to_string().replace(
        "pc33.atlanta.example.com:5060;",
        "PC33.Atlanta.Example.COM:5060;",
    ));
    assert_eq!(key(&a), key(&upper));
}

#[test]
fn same_branch_different_method_is_another_transaction() {
    assert_ne!(
        key(&request("OPTIONS", "z9hG4bKm")),
        key(&request("INFO", "z9hG4bKm"))
    );
}

#[test]
fn responses_match_client_transactions_by_branch_and_cseq_method() {
    let invite = invite("z9hG4bKcli");
    let cancel = cancel_for(&invite).unwrap();
    let invite_key = TransactionKey::for_sent_request(&invite).unwrap();
    let cancel_key = TransactionKey::for_sent_request(&cancel).unwrap();
    assert_ne!(invite_key, cancel_key);
    let ringing = response(&invite, 180, "uas");
    let cancel_ok = response(&cancel, 200, "uas");
    assert_eq!(TransactionKey::for_response(&ringing).unwrap(), invite_key);
    assert_eq!(
        TransactionKey::for_response(&cancel_ok).unwrap(),
        cancel_key
    );
    // A client key never equals a server key.
    assert_ne!(invite_key, key(&invite));
}

#[test]
fn rfc2543_requests_match_by_dialog_identity_and_top_via() {
    // No magic cookie: an old branch, or none at all.
    let invite = request_with("INVITE", "oldbranch1", "", 7);
    let again = request_with("INVITE", "oldbranch1", "", 7);
    assert_eq!(key(&invite), key(&again));
    let no_branch = request_with("INVITE", "", "", 7);
    assert_ne!(key(&invite), key(&no_branch), "the top Via differs");
    let next = request_with("INVITE", "oldbranch1", "", 8);
    assert_ne!(
        key(&invite),
        key(&next),
        "another CSeq is another transaction"
    );

    // The ACK carries the response's To tag and still matches; the To tag
    // is checked by the transaction (see rfc2543-ack-needs-the-response-to-tag.rs).
    let ack = request_with("ACK", "oldbranch1", "uas", 7);
    assert_eq!(key(&ack), key(&invite));

    // For other methods the To tag is part of the key.
    let bye = request_with("BYE", "oldbranch2", "t1", 9);
    let bye_other_tag = request_with("BYE", "oldbranch2", "t2", 9);
    assert_eq!(key(&bye), key(&request_with("BYE", "oldbranch2", "t1", 9)));
    assert_ne!(key(&bye), key(&bye_other_tag));

    let cancel = request_with("CANCEL", "oldbranch1", "", 7);
    assert_ne!(key(&cancel), key(&invite));
    assert_eq!(
        TransactionKey::for_cancel_target(&cancel).unwrap(),
        key(&invite)
    );
}

#[test]
fn missing_headers_are_errors_not_panics() {
    let no_via = parse_request(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
         From: <sip:alice@atlanta.example.com>;tag=1\r\n\
         To: <sip:bob@biloxi.example.com>\r\n\
         Call-ID: x\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(
        TransactionKey::for_request(&no_via),
        Err(KeyError::MissingHeader("Via"))
    );
    assert_eq!(
        TransactionKey::for_sent_request(&no_via),
        Err(KeyError::MissingHeader("Via"))
    );

    let legacy_without_call_id = parse_request(
        "OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP host.example.com;branch=old\r\n\
         From: <sip:alice@atlanta.example.com>;tag=1\r\n\
         To: <sip:bob@biloxi.example.com>\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
    );
    assert_eq!(
        TransactionKey::for_request(&legacy_without_call_id),
        Err(KeyError::MissingHeader("Call-ID"))
    );
    // The branch alone would not do for a client transaction.
    assert_eq!(
        TransactionKey::for_sent_request(&request_with("OPTIONS", "", "", 1)),
        Err(KeyError::MissingBranch)
    );
}
