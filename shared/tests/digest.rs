//! Digest authentication against the published example vectors, round trips,
//! and hostile input.
#![allow(clippy::unwrap_used)]

use shared::sip::digest::{
    Algorithm, Challenge, Credentials, DigestError, answer, expected_response, ha1, verify,
};

/// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
const RFC7616_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const RFC7616_OPAQUE: &str = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";

fn rfc7616_challenge(alg: &str) -> Challenge {
    Challenge::parse(&format!(
        "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    \
         algorithm={alg},\r\n    nonce=\"{RFC7616_NONCE}\",\r\n    opaque=\"{RFC7616_OPAQUE}\""
    ))
    .unwrap()
}

#[test]
fn rfc7616_md5_example() {
    let challenge = rfc7616_challenge("MD5");
    assert_eq!(challenge.algorithm, Algorithm::Md5);
    assert_eq!(challenge.qop, vec!["auth", "auth-int"]);
    let creds = answer(
        &challenge,
        "GET",
        "/dir/index.html",
        "Mufasa",
        "Circle of Life",
        RFC7616_CNONCE,
        1,
    );
    assert_eq!(creds.response, "8ca523f5e9506fed4657c9700eebdbec");
    assert_eq!(creds.qop.as_deref(), Some("auth"));
    assert_eq!(creds.opaque.as_deref(), Some(RFC7616_OPAQUE));
}

#[test]
fn rfc7616_sha256_example() {
    let challenge = rfc7616_challenge("SHA-256");
    assert_eq!(challenge.algorithm, Algorithm::Sha256);
    let creds = answer(
        &challenge,
        "GET",
        "/dir/index.html",
        "Mufasa",
        "Circle of Life",
        RFC7616_CNONCE,
        1,
    );
    assert_eq!(
        creds.response,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    // The server side, from the stored HA1.
    let stored = ha1(
        Algorithm::Sha256,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    let parsed = Credentials::parse(&creds.to_header_value()).unwrap();
    assert_eq!(parsed, creds);
    assert!(verify(&parsed, "GET", &stored));
    assert!(!verify(&parsed, "POST", &stored));
}

/// RFC 2617 §3.5, checked from the client's header as printed in the RFC.
#[test]
fn rfc2617_example() {
    let creds = Credentials::parse(
        "Digest username=\"Mufasa\",\r\n                 realm=\"testrealm@host.com\",\r\n                 \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n                 uri=\"/dir/index.html\",\r\n                 \
         qop=auth,\r\n                 nc=00000001,\r\n                 cnonce=\"0a4f113b\",\r\n                 \
         response=\"6629fae49393a05397450978507c4ef1\",\r\n                 \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    assert_eq!(creds.nc, Some(1));
    assert_eq!(creds.algorithm, Algorithm::Md5);
    let stored = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert_eq!(
        expected_response(&creds, "GET", &stored),
        "6629fae49393a05397450978507c4ef1"
    );
    assert!(verify(&creds, "GET", &stored));
    let wrong = ha1(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "circle of life",
    );
    assert!(!verify(&creds, "GET", &wrong));
}

#[test]
fn challenge_round_trip() {
    for alg in [
        Algorithm::Md5,
        Algorithm::Md5Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
    ] {
        let challenge = Challenge {
            realm: "gw \"quoted\" \\ realm".into(),
            nonce: "abc,def=ghi".into(),
            opaque: Some("o p".into()),
            algorithm: alg,
            qop: vec!["auth".into(), "auth-int".into()],
            stale: true,
        };
        let value = challenge.to_header_value();
        assert_eq!(Challenge::parse(&value), Ok(challenge), "{value}");
    }
}

#[test]
fn challenge_parsing_is_lenient_where_peers_are_sloppy() {
    let c = Challenge::parse(
        "digest  REALM = \"a\" ,, Nonce=n1 , algorithm=\"sha-256-SESS\", stale=false, domain=\"sip:x\", qop=auth",
    )
    .unwrap();
    assert_eq!(c.realm, "a");
    assert_eq!(c.nonce, "n1");
    assert_eq!(c.algorithm, Algorithm::Sha256Sess);
    assert!(!c.stale);
    assert_eq!(c.qop, vec!["auth"]);
}

#[test]
fn credentials_header_shape() {
    let challenge = Challenge::parse("Digest realm=\"gw\", nonce=\"n\", qop=\"auth\"").unwrap();
    let creds = answer(&challenge, "REGISTER", "sip:gw", "demo", "pw", "c1", 0x1a);
    let value = creds.to_header_value();
    assert!(
        value.starts_with("Digest username=\"demo\", realm=\"gw\""),
        "{value}"
    );
    assert!(value.contains(", algorithm=MD5"), "{value}");
    assert!(value.contains(", qop=auth"), "{value}");
    assert!(value.contains(", nc=0000001a"), "{value}");
    assert_eq!(Credentials::parse(&value), Ok(creds));
}

#[test]
fn every_algorithm_answers_and_verifies() {
    for (alg, qop) in [
        ("MD5", ""),
        ("MD5", ", qop=\"auth\""),
        ("MD5-sess", ""),
        ("MD5-sess", ", qop=\"auth\""),
        ("SHA-256", ""),
        ("SHA-256", ", qop=\"auth-int,auth\""),
        ("SHA-256-sess", ", qop=\"auth\""),
        ("SHA-256-sess", ""),
        ("MD5", ", qop=\"auth-int\""),
    ] {
        let challenge = Challenge::parse(&format!(
            "Digest realm=\"r\", nonce=\"n\", algorithm={alg}{qop}"
        ))
        .unwrap();
        let creds = answer(
            &challenge,
            "INVITE",
            "sip:+15551234567@gw",
            "u",
            "p",
            "cn",
            7,
        );
        let stored = ha1(challenge.algorithm, "u", "r", "p");
        let parsed = Credentials::parse(&creds.to_header_value()).unwrap();
        assert!(verify(&parsed, "INVITE", &stored), "{alg}{qop}");
        assert!(!verify(&parsed, "BYE", &stored), "{alg}{qop}");
        let has_qop = qop.contains("\"auth\"") || qop.contains(",auth\"");
        assert_eq!(parsed.qop.is_some(), has_qop, "{alg}{qop}");
    }
}

#[test]
fn auth_int_credentials_never_verify() {
    let mut creds = Credentials::parse(
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:a\", response=\"00\", qop=auth-int, nc=1, cnonce=\"c\"",
    )
    .unwrap();
    let stored = ha1(Algorithm::Md5, "u", "r", "p");
    creds.response = expected_response(&creds, "INVITE", &stored);
    assert_eq!(creds.response, "");
    assert!(!verify(&creds, "INVITE", &stored));
}

#[test]
fn errors_name_the_problem() {
    let cases: &[(&str, DigestError)] = &[
        ("Basic abc", DigestError::NotDigest),
        ("", DigestError::NotDigest),
        ("Digest nonce=\"n\"", DigestError::Missing("realm")),
        (
            "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512",
            DigestError::UnsupportedAlgorithm("SHA-512".into()),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Challenge::parse(input).as_ref(), Err(expected), "{input}");
    }
    for bad in [
        "Digest realm=\"r",
        "Digest realm=\"r\\",
        "Digest realm",
        "Digest realm=",
        "Digest =x",
        "Digest realm=\"a\" \"b\"",
        "Digest realm=a, realm=b, nonce=n",
    ] {
        assert!(
            matches!(Challenge::parse(bad), Err(DigestError::Malformed(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        Credentials::parse(
            "Digest username=u, realm=r, nonce=n, uri=\"x\", response=00, nc=123456789"
        ),
        Err(DigestError::Malformed(_))
    ));
}

/// Every prefix of real headers, and every single-byte replacement with
/// characters that matter to the grammar, parses or fails without panicking.
#[test]
fn malformed_input_never_panics() {
    let samples = [
        "Digest realm=\"gw\", nonce=\"a\\\"b\", opaque=\"o\", algorithm=SHA-256-sess, qop=\"auth,auth-int\", stale=TRUE",
        "Digest username=\"demo\", realm=\"gw.example\", nonce=\"ea9c\", uri=\"sip:gw.example\", response=\"dfe5\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001",
        "Digest username=\"ü€\", realm=\"ré\", nonce=\"n\", uri=\"u\", response=\"r\"",
    ];
    for sample in samples {
        for (i, _) in sample.char_indices() {
            let prefix = &sample[..i];
            let _ = Challenge::parse(prefix);
            let _ = Credentials::parse(prefix);
            for c in ['"', '\\', ',', '=', ' ', '\u{0}', 'é'] {
                let mut mutated = sample.to_owned();
                let end = i + sample[i..].chars().next().map_or(0, char::len_utf8);
                mutated.replace_range(i..end, &c.to_string());
                let _ = Challenge::parse(&mutated);
                if let Ok(creds) = Credentials::parse(&mutated) {
                    let _ = verify(&creds, "REGISTER", "x");
                    let _ = Credentials::parse(&creds.to_header_value());
                }
            }
        }
    }
}
