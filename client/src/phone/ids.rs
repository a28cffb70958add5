//! The names a tab goes by: its RFC 5626 instance id (a `urn:uuid`, kept in
//! sessionStorage so that a reload replaces the old binding rather than adding
//! one) and the random labels in Via and Contact.

/// `urn:uuid:…` for a version 4 UUID made of `bytes` (RFC 9562 §5.4).
pub fn instance_id(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `value` (read back from storage, so not trusted) is an instance
/// id as [`instance_id`] writes them.
pub fn is_instance_id(value: &str) -> bool {
    let Some(uuid) = value.strip_prefix("urn:uuid:") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `len` characters of `[a-z0-9]` drawn from `random`.
pub fn label(len: usize, mut random: impl FnMut() -> u64) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[(random() % 36) as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_version_4_uuids() {
        let id = instance_id([0xff; 16]);
        assert_eq!(id, "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(is_instance_id(&id));
        assert!(is_instance_id(&instance_id([0; 16])));
        assert_eq!(
            instance_id([0; 16]),
            "urn:uuid:00000000-0000-4000-8000-000000000000"
        );
    }

    #[test]
    fn stored_values_are_checked() {
        for bad in [
            "",
            "urn:uuid:",
            "ffffffff-ffff-4fff-bfff-ffffffffffff",
            "urn:uuid:FFFFFFFF-ffff-4fff-bfff-ffffffffffff",
            "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff>\r\nVia: x",
            "urn:uuid:ffffffff-ffff-4fff-bfff-fffffffffff",
        ] {
            assert!(!is_instance_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn labels_use_lower_case_letters_and_digits() {
        let mut n = 0u64;
        let l = label(8, || {
            n += 7;
            n
        });
        assert_eq!(l.len(), 8);
        assert!(
            l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }
}
