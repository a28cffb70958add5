//! The North American Numbering Plan read by area code (NPA).
//!
//! `+1` is shared by the US, Canada and twenty-odd Caribbean, Atlantic and
//! Pacific members, and it also holds non-geographic codes that are the same
//! in all of them: toll-free `8xx`, premium `900`, personal communications
//! `5xx`. The calling code says nothing about which; the three digits after
//! it do. Sources: NANPA's NPA assignments and the CNA's list of Canadian
//! area codes, as known at the date below. New overlays are added every
//! year: an unknown geographic code reads as US, the biggest member, so a
//! Canadian overlay missing here is refused by a CA-only policy rather than
//! let through by mistake as something else.
//!
//! Table as of 2025-06.

use super::DestinationClass;

/// Canada's area codes: geographic ones by province, then the
/// non-geographic ones Canada administers alone (600, 622).
const CANADA: &[&str] = &[
    // Alberta
    "368", "403", "587", "780", "825", //
    // British Columbia
    "236", "250", "257", "604", "672", "778", //
    // Manitoba
    "204", "431", "584", //
    // New Brunswick
    "428", "506", //
    // Newfoundland and Labrador
    "709", "879", //
    // Nova Scotia and Prince Edward Island
    "782", "902", //
    // Ontario
    "226", "249", "289", "343", "365", "382", "416", "437", "519", "548", "613", "647", "683",
    "705", "742", "753", "807", "905", "942", //
    // Quebec
    "263", "354", "367", "418", "438", "450", "468", "514", "579", "581", "819", "873", //
    // Saskatchewan
    "306", "474", "639", //
    // Yukon, Northwest Territories, Nunavut
    "867", //
    // Non-geographic, Canada only
    "600", "622",
];

/// The other members (ISO 3166 alpha-2) and their area codes. US
/// territories with their own ISO code (PR, VI, GU, MP, AS) are listed under
/// it: a policy names them apart from the fifty states.
const MEMBERS: &[(&str, &[&str])] = &[
    ("AG", &["268"]),
    ("AI", &["264"]),
    ("AS", &["684"]),
    ("BB", &["246"]),
    ("BM", &["441"]),
    ("BS", &["242"]),
    ("DM", &["767"]),
    ("DO", &["809", "829", "849"]),
    ("GD", &["473"]),
    ("GU", &["671"]),
    ("JM", &["658", "876"]),
    ("KN", &["869"]),
    ("KY", &["345"]),
    ("LC", &["758"]),
    ("MP", &["670"]),
    ("MS", &["664"]),
    ("PR", &["787", "939"]),
    ("SX", &["721"]),
    ("TC", &["649"]),
    ("TT", &["868"]),
    ("VC", &["784"]),
    ("VG", &["284"]),
    ("VI", &["340"]),
];

/// The codes of [`CANADA`] that name no place.
const CANADA_NON_GEOGRAPHIC: &[&str] = &["600", "622"];

/// Toll-free codes in service (the 822, 880–887 and 889 reserves are not yet).
const TOLL_FREE: &[&str] = &["800", "833", "844", "855", "866", "877", "888"];

/// Non-geographic codes shared by the whole NANP: personal communications
/// services (500, 521–529, 533, 544, 566, 577, 588), inbound international
/// (456), carrier services (700) and the US government (710).
const NON_GEOGRAPHIC: &[&str] = &[
    "456", "500", "521", "522", "523", "524", "525", "526", "527", "528", "529", "533", "544",
    "566", "577", "588", "700", "710",
];

/// What an NPA-NXX-XXXX number (the 10 digits after `+1`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NanpReading {
    /// ISO 3166 alpha-2 of the member, `None` for the codes shared by all
    /// (toll-free, premium, personal communications).
    pub iso: Option<&'static str>,
    pub class: DestinationClass,
    /// How many digits after the `1` decided the class: 3 (the area code)
    /// or 6 (area code and exchange, as for `976`), 10 for `555-1212`.
    pub decided_by: usize,
}

/// The member whose area code `npa` is (three digits), if it is a
/// geographic code of one; `None` for codes that are not a member's own.
pub fn country_of_area_code(npa: &str) -> Option<&'static str> {
    if CANADA.contains(&npa) {
        return Some("CA");
    }
    MEMBERS
        .iter()
        .find(|(_, codes)| codes.contains(&npa))
        .map(|(iso, _)| *iso)
}

/// Reads the national number (`national`: the 10 digits after `+1`).
/// Shorter input is read as far as it goes (a number being typed).
pub fn read(national: &str) -> NanpReading {
    let npa = national.get(..3).unwrap_or(national);
    let nxx = national.get(3..6);
    let line = national.get(6..);
    let shared = |class, decided_by| NanpReading {
        iso: None,
        class,
        decided_by,
    };
    if TOLL_FREE.contains(&npa) {
        return shared(DestinationClass::TollFree, 3);
    }
    if npa == "900" {
        return shared(DestinationClass::Premium, 3);
    }
    if NON_GEOGRAPHIC.contains(&npa) {
        return shared(DestinationClass::NonGeographic, 3);
    }
    // N11 (211 … 911) are three-digit service codes, never area codes: a
    // ten-digit number starting with one reaches nobody it should.
    if is_n11(npa) {
        return shared(DestinationClass::Special, 3);
    }
    let iso = Some(country_of_area_code(npa).unwrap_or("US"));
    if CANADA_NON_GEOGRAPHIC.contains(&npa) {
        return NanpReading {
            iso,
            class: DestinationClass::NonGeographic,
            decided_by: 3,
        };
    }
    let class = match (nxx, line) {
        // 976 exchanges: the pay-per-call lines of old; where they still
        // exist they bill the caller like 900.
        (Some("976"), _) => (DestinationClass::Premium, 6),
        // N11 as an exchange is not assigned to subscribers.
        (Some(nxx), _) if is_n11(nxx) => (DestinationClass::Special, 6),
        // NPA-555-1212: directory assistance, billed per call. The rest of
        // 555 (555-0100 … 0199 is set aside for fiction) stays geographic.
        (Some("555"), Some("1212")) => (DestinationClass::Special, 10),
        _ => (DestinationClass::Geographic, 3),
    };
    NanpReading {
        iso,
        class: class.0,
        decided_by: class.1,
    }
}

fn is_n11(code: &str) -> bool {
    code.len() == 3 && code.ends_with("11")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_codes_are_listed_once_and_are_three_digits_n_x_x() {
        let mut seen = std::collections::HashSet::new();
        let all = CANADA
            .iter()
            .chain(MEMBERS.iter().flat_map(|(_, codes)| codes.iter()))
            .chain(TOLL_FREE)
            .chain(NON_GEOGRAPHIC);
        for code in all {
            let b = code.as_bytes();
            assert_eq!(b.len(), 3, "{code}");
            assert!(b.iter().all(u8::is_ascii_digit), "{code}");
            assert!((b'2'..=b'9').contains(&b[0]), "{code}");
            assert!(!is_n11(code), "{code}");
            assert!(seen.insert(*code), "{code} is listed twice");
        }
        assert!(!seen.contains("900"));
    }

    #[test]
    fn every_member_is_a_country_of_the_numbering_table() {
        for (iso, _) in MEMBERS {
            let c = crate::e164::country(iso);
            assert_eq!(c.map(|c| c.calling_code), Some("1"), "{iso}");
        }
    }
}
