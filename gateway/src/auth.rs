//! Passwords and tokens.
//!
//! Web passwords are argon2id hashes (PHC strings). Session cookies and SIP
//! passwords are 256-bit random tokens; the database keeps only the SHA-256
//! of a session token, so a copy of the database opens no session.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Hashes a password with argon2id and a random salt. CPU-heavy: async code
/// calls [`hash_password_in_turn`].
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a password against a stored PHC string. A malformed stored hash
/// counts as a mismatch. CPU-heavy: async code calls
/// [`verify_password_in_turn`].
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(hash) => Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

/// At most one argon2 run per core at a time. Each takes 19 MiB and tens
/// of milliseconds of a core: a burst of sign-ins (a shift starting, or a
/// flood of wrong passwords) waits its turn here instead of taking a
/// blocking thread and 19 MiB each, which held hundreds of MB after a burst
/// (freed memory stays with each thread's allocator arena).
fn hashing_turns() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    })
}

/// [`hash_password`] off the async threads, in turn with other hashing.
pub async fn hash_password_in_turn(password: String) -> Result<String, String> {
    let _turn = hashing_turns()
        .acquire()
        .await
        .map_err(|e| format!("hashing: {e}"))?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| format!("hashing task: {e}"))?
        .map_err(|e| format!("hashing: {e}"))
}

/// [`verify_password`] off the async threads, in turn with other hashing.
pub async fn verify_password_in_turn(password: String, stored: String) -> Result<bool, String> {
    let _turn = hashing_turns()
        .acquire()
        .await
        .map_err(|e| format!("password check: {e}"))?;
    tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| format!("password check task: {e}"))
}

/// A hash to verify against when the username does not exist, so that a
/// wrong username costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// 32 random bytes as 64 lower-case hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex(&bytes)
}

/// SHA-256 of a token, hex; what the database stores for a session.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), a);
    }
}
