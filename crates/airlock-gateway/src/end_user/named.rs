//! The end user a request's body names: OpenAI's `safety_identifier`, else
//! its `user`. Only a verified token's end user counts for limits; a name
//! in the body is the client's word, kept so the inventory of user data
//! can find what was made for that person (request records, media, cached
//! answers, logged content).

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;

/// The longest name kept, in bytes; a longer one is not a name.
const MAX_NAME_BYTES: usize = 256;

#[derive(Deserialize)]
struct Named {
    safety_identifier: Option<String>,
    user: Option<String>,
}

/// The name a JSON body gives its end user, when it has one. A body that
/// names no `"user"` or `"safety_identifier"` key is not parsed (a scan
/// for the key is all it costs).
pub fn named_in_body(body: &[u8]) -> Option<String> {
    // Built once: a finder's tables cost more to build than a body's scan.
    static USER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"user\""));
    static SAFETY_IDENTIFIER: LazyLock<Finder<'static>> =
        LazyLock::new(|| Finder::new(b"\"safety_identifier\""));
    if !names_a_key(body, &USER) && !names_a_key(body, &SAFETY_IDENTIFIER) {
        return None;
    }
    let named: Named = serde_json::from_slice(body).ok()?;
    named
        .safety_identifier
        .into_iter()
        .chain(named.user)
        .find(|name| !name.is_empty() && name.len() <= MAX_NAME_BYTES)
}

/// Whether `key` (quoted) appears followed by a colon: as an object key,
/// not a value such as a message's `"role": "user"`.
fn names_a_key(body: &[u8], key: &Finder<'_>) -> bool {
    key.find_iter(body).any(|at| {
        body[at + key.needle().len()..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            == Some(&b':')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safety_identifier_comes_first_then_the_user_field() {
        let both = br#"{"model":"m","user":"u-1","safety_identifier":"s-1"}"#;
        assert_eq!(named_in_body(both).as_deref(), Some("s-1"));
        let user = br#"{"messages":[{"role":"user","content":"hi"}], "user" : "u-2"}"#;
        assert_eq!(named_in_body(user).as_deref(), Some("u-2"));
    }

    #[test]
    fn a_role_named_user_or_text_mentioning_it_is_not_an_end_user() {
        let role = br#"{"messages":[{"role":"user","content":"say \"user\": hi"}]}"#;
        assert_eq!(named_in_body(role), None);
        assert_eq!(named_in_body(br#"{"user":""}"#), None);
        assert_eq!(named_in_body(br#"{"user":42}"#), None);
        let long = format!(r#"{{"user":"{}"}}"#, "x".repeat(300));
        assert_eq!(named_in_body(long.as_bytes()), None);
        assert_eq!(named_in_body(b"not json \"user\": 1"), None);
    }
}
