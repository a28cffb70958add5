//! Numbers as agents type them, and what [`normalize`] makes of them.
#![allow(clippy::unwrap_used)]

use shared::e164::{E164, NumberError, country, normalize};

/// `(default country, input, expected E.164 or error message)`.
fn check(cases: &[(&str, &str, &str)]) {
    let mut failures = Vec::new();
    for (iso, input, expect) in cases {
        let default = country(iso).unwrap();
        let actual = match normalize(input, default) {
            Ok(n) => n.to_string(),
            Err(e) => format!("error: {e}"),
        };
        if actual != *expect {
            failures.push(format!(
                "{iso} {input:?}: expected {expect:?}, got {actual:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn north_america() {
    check(&[
        ("US", "(415) 555-2671", "+14155552671"),
        ("US", "415.555.2671", "+14155552671"),
        ("US", "1-415-555-2671", "+14155552671"),
        ("US", "+1 415 555 2671", "+14155552671"),
        ("US", "tel:+1-415-555-2671", "+14155552671"),
        ("CA", "613 555 0199", "+16135550199"),
        ("US", "011 44 20 7946 0958", "+442079460958"),
        ("US", "011 49 30 901820", "+4930901820"),
        (
            "US",
            "555-2671",
            "error: US numbers have 10 digits after the country code, this one has 7",
        ),
        (
            "US",
            "1 415 555 26711",
            "error: US numbers have 10 digits after the country code, this one has 12",
        ),
        (
            "US",
            "(115) 555-2671",
            "error: in North America neither the area code nor the exchange can start with 0 or 1",
        ),
        (
            "US",
            "415 055 2671",
            "error: in North America neither the area code nor the exchange can start with 0 or 1",
        ),
        (
            "US",
            "+1 015 555 2671",
            "error: in North America neither the area code nor the exchange can start with 0 or 1",
        ),
        (
            "US",
            "1-800-FLOWERS",
            "error: 'F' is not allowed in a phone number",
        ),
    ]);
}

#[test]
fn europe() {
    check(&[
        ("GB", "020 7946 0958", "+442079460958"),
        ("GB", "07700 900123", "+447700900123"),
        ("GB", "+44 (0)20 7946 0958", "+442079460958"),
        ("GB", "0044 20 7946 0958", "+442079460958"),
        ("GB", "00 1 415 555 2671", "+14155552671"),
        (
            "GB",
            "020 7946 09",
            "error: GB numbers have 9 or 10 digits after the country code, this one has 8",
        ),
        ("DE", "030 901820", "+4930901820"),
        ("DE", "0151 23456789", "+4915123456789"),
        ("FR", "01 23 45 67 89", "+33123456789"),
        ("FR", "06.12.34.56.78", "+33612345678"),
        ("ES", "912 345 678", "+34912345678"),
        ("IT", "06 1234 5678", "+390612345678"),
        ("IT", "+39 06 1234 5678", "+390612345678"),
        ("IT", "333 123 4567", "+393331234567"),
        ("NL", "020-1234567", "+31201234567"),
        ("BE", "02 123 45 67", "+3221234567"),
        ("IE", "01 234 5678", "+35312345678"),
        ("SE", "08-123 456 78", "+46812345678"),
        ("NO", "22 12 34 56", "+4722123456"),
        ("DK", "32 12 34 56", "+4532123456"),
        ("PL", "12 345 67 89", "+48123456789"),
        ("PT", "213 456 789", "+351213456789"),
        ("CH", "044 668 18 00", "+41446681800"),
        ("AT", "01 58858 0", "+431588580"),
        (
            "FR",
            "01 23 45 67",
            "error: FR numbers have 9 digits after the country code, this one has 7",
        ),
    ]);
}

#[test]
fn elsewhere() {
    check(&[
        ("AU", "(02) 9876 5432", "+61298765432"),
        ("AU", "0412 345 678", "+61412345678"),
        ("AU", "0011 44 20 7946 0958", "+442079460958"),
        ("NZ", "09 123 4567", "+6491234567"),
        ("IN", "098765 43210", "+919876543210"),
        ("BR", "(11) 91234-5678", "+5511912345678"),
        ("MX", "55 1234 5678", "+525512345678"),
        ("ZA", "021 123 4567", "+27211234567"),
        ("PH", "0917 123 4567", "+639171234567"),
        ("JP", "03-1234-5678", "+81312345678"),
        ("JP", "010 1 415 555 2671", "+14155552671"),
        ("SG", "6123 4567", "+6561234567"),
        ("SG", "000 44 20 7946 0958", "+442079460958"),
        ("AE", "04 123 4567", "+97141234567"),
        // Countries outside the table are accepted in international form.
        ("GB", "+7 495 123-45-67", "+74951234567"),
        ("GB", "+683 4002", "+6834002"),
    ]);
}

#[test]
fn errors_say_what_is_wrong() {
    check(&[
        ("GB", "", "error: the number is empty"),
        ("GB", " - ( ) ", "error: the number is empty"),
        ("GB", "+", "error: the number is empty"),
        (
            "GB",
            "+12",
            "error: too short: 2 digits, at least 7 are needed with the country code",
        ),
        (
            "GB",
            "+999 1234 5678 9012 3",
            "error: too long: 16 digits, at most 15 are allowed with the country code",
        ),
        (
            "GB",
            "0044 0",
            "error: too short: 3 digits, at least 7 are needed with the country code",
        ),
        (
            "GB",
            "00 0 123 4567",
            "error: a country code cannot start with 0",
        ),
        (
            "GB",
            "+44 20 +7946",
            "error: '+' may only stand at the start of the number",
        ),
        (
            "GB",
            "020 7946 0958 ext. 12",
            "error: 'e' is not allowed in a phone number",
        ),
        (
            "GB",
            "020_7946",
            "error: '_' is not allowed in a phone number",
        ),
        (
            "GB",
            "sip:+442079460958@gw",
            "error: 's' is not allowed in a phone number",
        ),
    ]);
}

#[test]
fn e164_strings_round_trip() {
    let n: E164 = "+442079460958".parse().unwrap();
    assert_eq!(n.as_str(), "+442079460958");
    assert_eq!(n.digits(), "442079460958");
    assert_eq!(n.country().map(|c| c.iso), Some("GB"));
    assert_eq!(n.to_string(), "+442079460958");
    for bad in [
        "442079460958",
        "+44 20 7946 0958",
        "+0442079460958",
        "+1234",
        "",
    ] {
        assert!(bad.parse::<E164>().is_err(), "{bad}");
    }
    assert_eq!("0207".parse::<E164>(), Err(NumberError::NotInternational));
}

#[test]
fn serde_is_a_validated_string() {
    let n: E164 = "+14155552671".parse().unwrap();
    assert_eq!(serde_json::to_string(&n).unwrap(), "\"+14155552671\"");
    let back: E164 = serde_json::from_str("\"+14155552671\"").unwrap();
    assert_eq!(back, n);
    let err = serde_json::from_str::<E164>("\"(415) 555-2671\"").unwrap_err();
    assert!(err.to_string().contains("starts with '+'"), "{err}");
    assert!(serde_json::from_str::<E164>("14155552671").is_err());
}

#[test]
fn every_country_normalises_its_own_international_form() {
    // A number of each allowed length, written with `+`, is accepted as is.
    for c in shared::e164::COUNTRIES {
        for &len in c.national_lengths {
            let first = if c.calling_code == "1" { "2" } else { "9" };
            let nsn = format!("{first}{}", "2".repeat(len - 1));
            let input = format!("+{} {nsn}", c.calling_code);
            let n = normalize(&input, c).unwrap_or_else(|e| panic!("{}: {input}: {e}", c.iso));
            assert_eq!(n.as_str(), format!("+{}{nsn}", c.calling_code));
        }
    }
}
