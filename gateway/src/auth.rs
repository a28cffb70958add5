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

/// Password hashing runs on a few threads of its own, one argon2 run per
/// core at a time. Each run takes 19 MiB and tens of milliseconds of a core:
/// a burst of sign-ins (a shift starting, or a flood of wrong passwords)
/// waits its turn instead of taking a blocking thread and 19 MiB each, so
/// at most one 19 MiB block per core is in use at once. (Giving the freed
/// blocks back to the system is the allocator's part: see `main.rs`.)
struct Hashers {
    turns: tokio::sync::Semaphore,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>>,
}

fn hashers() -> &'static Hashers {
    static HASHERS: std::sync::OnceLock<Hashers> = std::sync::OnceLock::new();
    HASHERS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            // A panic in one job must not take the thread.
                            Ok(job) => {
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("a password hashing thread could not start: {e}");
            }
        }
        Hashers {
            turns: tokio::sync::Semaphore::new(threads),
            jobs: std::sync::Mutex::new(tx),
        }
    })
}

/// Runs `work` on a hashing thread when a turn is free.
async fn in_turn<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let hashers = hashers();
    let _turn = hashers
        .turns
        .acquire()
        .await
        .map_err(|e| format!("password hashing: {e}"))?;
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Box<dyn FnOnce() + Send> = Box::new(move || {
        let _ = done.send(work());
    });
    hashers
        .jobs
        .lock()
        .map_err(|_| "password hashing: a thread panicked".to_owned())?
        .send(job)
        .map_err(|_| "password hashing: no thread runs".to_owned())?;
    result
        .await
        .map_err(|_| "password hashing: the job was dropped".to_owned())
}

/// [`hash_password`] on a hashing thread, in turn.
pub async fn hash_password_in_turn(password: String) -> Result<String, String> {
    in_turn(move || hash_password(&password))
        .await?
        .map_err(|e| format!("hashing: {e}"))
}

/// [`verify_password`] on a hashing thread, in turn.
pub async fn verify_password_in_turn(password: String, stored: String) -> Result<bool, String> {
    in_turn(move || verify_password(&password, &stored)).await
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
