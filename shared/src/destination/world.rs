//! Country calling codes (ITU-T E.164 assigned codes) with the ISO 3166
//! alpha-2 code and English name of each country, so that a policy can name
//! any country and a refusal can say where a number goes.
//!
//! [`crate::e164::COUNTRIES`] knows how numbers are *written* in a few
//! dozen countries; this table only knows where a number *goes*, for all of
//! them. Where countries share a code the main one is named (+44 GB for
//! Jersey too, +590 GP for Saint-Martin too), except Kazakhstan, which has
//! its own +76/+77 inside Russia's +7. The NANP (+1) is read by area code in
//! [`super::nanp`]; its members are listed here with code `1` for their
//! names only.

/// `(calling code, ISO 3166 alpha-2, name)`.
pub const CALLING_CODES: &[(&str, &str, &str)] = &[
    ("1", "US", "the United States"),
    ("1", "CA", "Canada"),
    ("1", "AG", "Antigua and Barbuda"),
    ("1", "AI", "Anguilla"),
    ("1", "AS", "American Samoa"),
    ("1", "BB", "Barbados"),
    ("1", "BM", "Bermuda"),
    ("1", "BS", "the Bahamas"),
    ("1", "DM", "Dominica"),
    ("1", "DO", "the Dominican Republic"),
    ("1", "GD", "Grenada"),
    ("1", "GU", "Guam"),
    ("1", "JM", "Jamaica"),
    ("1", "KN", "Saint Kitts and Nevis"),
    ("1", "KY", "the Cayman Islands"),
    ("1", "LC", "Saint Lucia"),
    ("1", "MP", "the Northern Mariana Islands"),
    ("1", "MS", "Montserrat"),
    ("1", "PR", "Puerto Rico"),
    ("1", "SX", "Sint Maarten"),
    ("1", "TC", "the Turks and Caicos Islands"),
    ("1", "TT", "Trinidad and Tobago"),
    ("1", "VC", "Saint Vincent and the Grenadines"),
    ("1", "VG", "the British Virgin Islands"),
    ("1", "VI", "the US Virgin Islands"),
    ("7", "RU", "Russia"),
    ("76", "KZ", "Kazakhstan"),
    ("77", "KZ", "Kazakhstan"),
    ("20", "EG", "Egypt"),
    ("211", "SS", "South Sudan"),
    ("212", "MA", "Morocco"),
    ("213", "DZ", "Algeria"),
    ("216", "TN", "Tunisia"),
    ("218", "LY", "Libya"),
    ("220", "GM", "the Gambia"),
    ("221", "SN", "Senegal"),
    ("222", "MR", "Mauritania"),
    ("223", "ML", "Mali"),
    ("224", "GN", "Guinea"),
    ("225", "CI", "Côte d'Ivoire"),
    ("226", "BF", "Burkina Faso"),
    ("227", "NE", "Niger"),
    ("228", "TG", "Togo"),
    ("229", "BJ", "Benin"),
    ("230", "MU", "Mauritius"),
    ("231", "LR", "Liberia"),
    ("232", "SL", "Sierra Leone"),
    ("233", "GH", "Ghana"),
    ("234", "NG", "Nigeria"),
    ("235", "TD", "Chad"),
    ("236", "CF", "the Central African Republic"),
    ("237", "CM", "Cameroon"),
    ("238", "CV", "Cabo Verde"),
    ("239", "ST", "São Tomé and Príncipe"),
    ("240", "GQ", "Equatorial Guinea"),
    ("241", "GA", "Gabon"),
    ("242", "CG", "the Republic of the Congo"),
    ("243", "CD", "the Democratic Republic of the Congo"),
    ("244", "AO", "Angola"),
    ("245", "GW", "Guinea-Bissau"),
    ("246", "IO", "Diego Garcia"),
    ("247", "AC", "Ascension Island"),
    ("248", "SC", "Seychelles"),
    ("249", "SD", "Sudan"),
    ("250", "RW", "Rwanda"),
    ("251", "ET", "Ethiopia"),
    ("252", "SO", "Somalia"),
    ("253", "DJ", "Djibouti"),
    ("254", "KE", "Kenya"),
    ("255", "TZ", "Tanzania"),
    ("256", "UG", "Uganda"),
    ("257", "BI", "Burundi"),
    ("258", "MZ", "Mozambique"),
    ("260", "ZM", "Zambia"),
    ("261", "MG", "Madagascar"),
    ("262", "RE", "Réunion"),
    ("263", "ZW", "Zimbabwe"),
    ("264", "NA", "Namibia"),
    ("265", "MW", "Malawi"),
    ("266", "LS", "Lesotho"),
    ("267", "BW", "Botswana"),
    ("268", "SZ", "Eswatini"),
    ("269", "KM", "Comoros"),
    ("27", "ZA", "South Africa"),
    ("290", "SH", "Saint Helena"),
    ("291", "ER", "Eritrea"),
    ("297", "AW", "Aruba"),
    ("298", "FO", "the Faroe Islands"),
    ("299", "GL", "Greenland"),
    ("30", "GR", "Greece"),
    ("31", "NL", "the Netherlands"),
    ("32", "BE", "Belgium"),
    ("33", "FR", "France"),
    ("34", "ES", "Spain"),
    ("350", "GI", "Gibraltar"),
    ("351", "PT", "Portugal"),
    ("352", "LU", "Luxembourg"),
    ("353", "IE", "Ireland"),
    ("354", "IS", "Iceland"),
    ("355", "AL", "Albania"),
    ("356", "MT", "Malta"),
    ("357", "CY", "Cyprus"),
    ("358", "FI", "Finland"),
    ("359", "BG", "Bulgaria"),
    ("36", "HU", "Hungary"),
    ("370", "LT", "Lithuania"),
    ("371", "LV", "Latvia"),
    ("372", "EE", "Estonia"),
    ("373", "MD", "Moldova"),
    ("374", "AM", "Armenia"),
    ("375", "BY", "Belarus"),
    ("376", "AD", "Andorra"),
    ("377", "MC", "Monaco"),
    ("378", "SM", "San Marino"),
    ("380", "UA", "Ukraine"),
    ("381", "RS", "Serbia"),
    ("382", "ME", "Montenegro"),
    ("383", "XK", "Kosovo"),
    ("385", "HR", "Croatia"),
    ("386", "SI", "Slovenia"),
    ("387", "BA", "Bosnia and Herzegovina"),
    ("389", "MK", "North Macedonia"),
    ("39", "IT", "Italy"),
    ("40", "RO", "Romania"),
    ("41", "CH", "Switzerland"),
    ("420", "CZ", "Czechia"),
    ("421", "SK", "Slovakia"),
    ("423", "LI", "Liechtenstein"),
    ("43", "AT", "Austria"),
    ("44", "GB", "the United Kingdom"),
    ("45", "DK", "Denmark"),
    ("46", "SE", "Sweden"),
    ("47", "NO", "Norway"),
    ("48", "PL", "Poland"),
    ("49", "DE", "Germany"),
    ("500", "FK", "the Falkland Islands"),
    ("501", "BZ", "Belize"),
    ("502", "GT", "Guatemala"),
    ("503", "SV", "El Salvador"),
    ("504", "HN", "Honduras"),
    ("505", "NI", "Nicaragua"),
    ("506", "CR", "Costa Rica"),
    ("507", "PA", "Panama"),
    ("508", "PM", "Saint Pierre and Miquelon"),
    ("509", "HT", "Haiti"),
    ("51", "PE", "Peru"),
    ("52", "MX", "Mexico"),
    ("53", "CU", "Cuba"),
    ("54", "AR", "Argentina"),
    ("55", "BR", "Brazil"),
    ("56", "CL", "Chile"),
    ("57", "CO", "Colombia"),
    ("58", "VE", "Venezuela"),
    ("590", "GP", "Guadeloupe"),
    ("591", "BO", "Bolivia"),
    ("592", "GY", "Guyana"),
    ("593", "EC", "Ecuador"),
    ("594", "GF", "French Guiana"),
    ("595", "PY", "Paraguay"),
    ("596", "MQ", "Martinique"),
    ("597", "SR", "Suriname"),
    ("598", "UY", "Uruguay"),
    ("599", "CW", "Curaçao"),
    ("60", "MY", "Malaysia"),
    ("61", "AU", "Australia"),
    ("62", "ID", "Indonesia"),
    ("63", "PH", "the Philippines"),
    ("64", "NZ", "New Zealand"),
    ("65", "SG", "Singapore"),
    ("66", "TH", "Thailand"),
    ("670", "TL", "Timor-Leste"),
    ("672", "NF", "Norfolk Island"),
    ("673", "BN", "Brunei"),
    ("674", "NR", "Nauru"),
    ("675", "PG", "Papua New Guinea"),
    ("676", "TO", "Tonga"),
    ("677", "SB", "the Solomon Islands"),
    ("678", "VU", "Vanuatu"),
    ("679", "FJ", "Fiji"),
    ("680", "PW", "Palau"),
    ("681", "WF", "Wallis and Futuna"),
    ("682", "CK", "the Cook Islands"),
    ("683", "NU", "Niue"),
    ("685", "WS", "Samoa"),
    ("686", "KI", "Kiribati"),
    ("687", "NC", "New Caledonia"),
    ("688", "TV", "Tuvalu"),
    ("689", "PF", "French Polynesia"),
    ("690", "TK", "Tokelau"),
    ("691", "FM", "Micronesia"),
    ("692", "MH", "the Marshall Islands"),
    ("81", "JP", "Japan"),
    ("82", "KR", "South Korea"),
    ("84", "VN", "Vietnam"),
    ("850", "KP", "North Korea"),
    ("852", "HK", "Hong Kong"),
    ("853", "MO", "Macao"),
    ("855", "KH", "Cambodia"),
    ("856", "LA", "Laos"),
    ("86", "CN", "China"),
    ("880", "BD", "Bangladesh"),
    ("886", "TW", "Taiwan"),
    ("90", "TR", "Türkiye"),
    ("91", "IN", "India"),
    ("92", "PK", "Pakistan"),
    ("93", "AF", "Afghanistan"),
    ("94", "LK", "Sri Lanka"),
    ("95", "MM", "Myanmar"),
    ("960", "MV", "the Maldives"),
    ("961", "LB", "Lebanon"),
    ("962", "JO", "Jordan"),
    ("963", "SY", "Syria"),
    ("964", "IQ", "Iraq"),
    ("965", "KW", "Kuwait"),
    ("966", "SA", "Saudi Arabia"),
    ("967", "YE", "Yemen"),
    ("968", "OM", "Oman"),
    ("970", "PS", "Palestine"),
    ("971", "AE", "the United Arab Emirates"),
    ("972", "IL", "Israel"),
    ("973", "BH", "Bahrain"),
    ("974", "QA", "Qatar"),
    ("975", "BT", "Bhutan"),
    ("976", "MN", "Mongolia"),
    ("977", "NP", "Nepal"),
    ("98", "IR", "Iran"),
    ("992", "TJ", "Tajikistan"),
    ("993", "TM", "Turkmenistan"),
    ("994", "AZ", "Azerbaijan"),
    ("995", "GE", "Georgia"),
    ("996", "KG", "Kyrgyzstan"),
    ("998", "UZ", "Uzbekistan"),
];

/// Codes that belong to no country (ITU-T global services): they are
/// classified by the high-risk list, and no country rule can allow them.
pub const GLOBAL_CODES: &[(&str, &str)] = &[
    ("800", "international freephone"),
    ("808", "international shared cost"),
    ("870", "Inmarsat"),
    ("878", "universal personal telecommunications"),
    ("881", "global mobile satellite systems"),
    ("882", "international networks"),
    ("883", "international networks"),
    ("888", "international disaster relief (OCHA)"),
    ("979", "international premium rate"),
];

/// The country code (outside the NANP) that starts `digits`: `(calling
/// code, ISO)`. The longest code wins (+77 is KZ, +7 RU).
pub fn country_code_of(digits: &str) -> Option<(&'static str, &'static str)> {
    CALLING_CODES
        .iter()
        .filter(|(code, _, _)| *code != "1" && digits.starts_with(code))
        .max_by_key(|(code, _, _)| code.len())
        .map(|(code, iso, _)| (*code, *iso))
}

/// The global service code (ITU-T, no country) that starts `digits`.
pub fn global_code_of(digits: &str) -> Option<(&'static str, &'static str)> {
    GLOBAL_CODES
        .iter()
        .find(|(code, _)| digits.starts_with(code))
        .copied()
}

/// The English name of a country by ISO code (case-insensitive), with the
/// article where English uses one ("the Bahamas").
pub fn country_name(iso: &str) -> Option<&'static str> {
    CALLING_CODES
        .iter()
        .find(|(_, i, _)| i.eq_ignore_ascii_case(iso))
        .map(|(_, _, name)| *name)
}

/// The ISO code is one this table knows (a policy may name it).
pub fn is_known_country(iso: &str) -> bool {
    country_name(iso).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_and_never_shadow_each_other_by_accident() {
        for (code, iso, name) in CALLING_CODES {
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            assert!(iso.len() == 2 && iso.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(!name.is_empty());
            // Country codes form a prefix code, except the deliberate
            // nesting of KZ inside RU and the shared +1.
            for (other, other_iso, _) in CALLING_CODES {
                if other != code && other.starts_with(code) {
                    assert_eq!((*code, *other_iso), ("7", "KZ"), "+{code} shadows +{other}");
                }
            }
            for (global, _) in GLOBAL_CODES {
                assert!(
                    !global.starts_with(code) && !code.starts_with(global),
                    "+{code} and +{global}"
                );
            }
        }
    }

    #[test]
    fn the_longest_code_wins() {
        assert_eq!(country_code_of("77012345678"), Some(("77", "KZ")));
        assert_eq!(country_code_of("74951234567"), Some(("7", "RU")));
        assert_eq!(country_code_of("442079460958"), Some(("44", "GB")));
        assert_eq!(country_code_of("3725551234"), Some(("372", "EE")));
        assert_eq!(country_code_of("14155550100"), None, "NANP is read apart");
        assert_eq!(country_code_of("8816123456"), None);
        assert_eq!(
            global_code_of("8816123456"),
            Some(("881", "global mobile satellite systems"))
        );
        assert_eq!(country_name("jm"), Some("Jamaica"));
    }

    #[test]
    fn every_numbering_country_has_a_name() {
        for c in crate::e164::COUNTRIES {
            assert!(country_name(c.iso).is_some(), "{}", c.iso);
            if c.calling_code != "1" {
                assert_eq!(
                    country_code_of(&format!("{}2", c.calling_code)).map(|(_, iso)| iso),
                    Some(c.iso)
                );
            }
        }
    }
}
