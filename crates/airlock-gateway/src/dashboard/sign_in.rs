//! Signing in to the dashboard: passwords (argon2id, PHC strings), the
//! session token in an `HttpOnly`, `SameSite=Strict` cookie (its SHA-256 is
//! what the database holds), a CSRF token every change must echo, and a
//! bound on failed attempts per client address and per user name.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use http::HeaderMap;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "airlock_session";

/// The header carrying the session's CSRF token on every change.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// How long a session lasts.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// Failed attempts allowed per address, and per user name, in a window.
pub(crate) const MAX_FAILED_ATTEMPTS: u32 = 10;

/// The window failed attempts are counted in, from the first.
pub(crate) const ATTEMPTS_WINDOW: Duration = Duration::from_secs(60);

/// The shortest password an admin user may have.
pub(crate) const MIN_PASSWORD_CHARS: usize = 12;

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| "no randomness for a salt".to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|error| error.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Whether `password` matches a stored hash (a hash that does not parse
/// matches nothing).
pub(crate) fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// Checks a user name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_username(username: &str) -> Result<(), String> {
    let fits = (1..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    match fits {
        true => Ok(()),
        false => Err("username must be 1 to 64 letters, digits, `.`, `_`, `-` or `@`".to_string()),
    }
}

/// Checks a new admin user's password.
pub fn check_password(password: &str) -> Result<(), String> {
    match password.chars().count() {
        n if n < MIN_PASSWORD_CHARS => Err(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters"
        )),
        n if n > 1024 => Err("the password must be at most 1024 characters".to_string()),
        _ => Ok(()),
    }
}

/// 32 random bytes as hex: a session or CSRF token.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // The system's randomness does not fail on the platforms Airlock runs on.
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator answers");
    hex::encode(bytes)
}

/// What the database keeps of a session token.
pub(crate) fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two tokens in time independent of where they differ.
pub(crate) fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |diff, (x, y)| diff | (x ^ y))
            == 0
}

/// The session token in a request's `Cookie` headers.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty()).then_some(value)
        })
}

/// The `Set-Cookie` value that stores a session (`None`: that clears it).
/// `Secure` when the browser reached Airlock over HTTPS (directly, or
/// through a proxy that says so): a browser drops a `Secure` cookie set
/// over plain HTTP anywhere but on its own machine.
pub(crate) fn set_cookie(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(token) => format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_LIFETIME.as_secs()
        ),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Failed sign-in attempts per address and per user name, each forgotten
/// a window after its first.
#[derive(Clone)]
pub(crate) struct SignInAttempts {
    failures: moka::sync::Cache<String, Arc<AtomicU32>>,
}

impl Default for SignInAttempts {
    fn default() -> Self {
        SignInAttempts {
            failures: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ATTEMPTS_WINDOW)
                .build(),
        }
    }
}

impl SignInAttempts {
    fn keys(address: Option<IpAddr>, username: &str) -> [String; 2] {
        let address = address.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        [format!("address:{address}"), format!("user:{username}")]
    }

    /// Whether the address or the name has used up its attempts.
    pub(crate) fn refused(&self, address: Option<IpAddr>, username: &str) -> bool {
        Self::keys(address, username).iter().any(|key| {
            self.failures
                .get(key)
                .is_some_and(|count| count.load(Ordering::Relaxed) >= MAX_FAILED_ATTEMPTS)
        })
    }

    /// Counts a failed attempt against the address and the name.
    pub(crate) fn failed(&self, address: Option<IpAddr>, username: &str) {
        for key in Self::keys(address, username) {
            self.failures
                .get_with(key, Arc::default)
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_matches_its_hash_and_nothing_else() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &hash));
        assert!(!password_matches("correct horse batterY", &hash));
        assert!(!password_matches("correct horse battery", "not a hash"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; airlock_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        headers.insert(http::header::COOKIE, "airlock_session=".parse().unwrap());
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn attempts_are_refused_after_the_limit_per_address_and_per_name() {
        let attempts = SignInAttempts::default();
        let here: Option<IpAddr> = "10.0.0.1".parse().ok();
        for _ in 0..MAX_FAILED_ATTEMPTS {
            assert!(!attempts.refused(here, "alice"));
            attempts.failed(here, "alice");
        }
        assert!(attempts.refused(here, "bob"), "the address is used up");
        assert!(
            attempts.refused("10.0.0.2".parse().ok(), "alice"),
            "so is the name"
        );
        assert!(!attempts.refused("10.0.0.2".parse().ok(), "bob"));
    }

    #[test]
    fn tokens_compare_by_value() {
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert!(tokens_equal(&token, &token.clone()));
        assert!(!tokens_equal(&token, &new_token()));
        assert!(!tokens_equal("ab", "abc"));
    }
}
