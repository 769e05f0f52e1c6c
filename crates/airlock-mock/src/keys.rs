//! The API-key rules shared by both providers: a key's prefix decides how the
//! simulated provider treats it.

/// How the simulated provider regards the key a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyVerdict {
    /// No key, or an empty one.
    Missing,
    /// Starts with `bad-`: the provider does not know the key.
    Invalid,
    /// Starts with `denied-`: the key is known but not allowed to call.
    Denied,
    /// Starts with `limited-`: the key is over its quota (429, retry after 1s).
    Limited,
    /// Anything else.
    Valid,
}

/// Seconds a `limited-` key is told to wait.
pub const LIMITED_RETRY_AFTER_SECS: u64 = 1;

pub fn classify(key: Option<&str>) -> KeyVerdict {
    match key {
        None | Some("") => KeyVerdict::Missing,
        Some(k) if k.starts_with("bad-") => KeyVerdict::Invalid,
        Some(k) if k.starts_with("denied-") => KeyVerdict::Denied,
        Some(k) if k.starts_with("limited-") => KeyVerdict::Limited,
        Some(_) => KeyVerdict::Valid,
    }
}

/// Masks a key the way OpenAI echoes it in "Incorrect API key provided"
/// errors: keys longer than 12 characters keep their first 8 and last 4
/// characters with `*` in between; shorter keys are shown as sent.
pub fn mask_openai_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return key.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_decide_the_verdict() {
        assert_eq!(classify(None), KeyVerdict::Missing);
        assert_eq!(classify(Some("")), KeyVerdict::Missing);
        assert_eq!(classify(Some("bad-x")), KeyVerdict::Invalid);
        assert_eq!(classify(Some("denied-x")), KeyVerdict::Denied);
        assert_eq!(classify(Some("limited-x")), KeyVerdict::Limited);
        assert_eq!(classify(Some("sk-good")), KeyVerdict::Valid);
        assert_eq!(classify(Some("bad")), KeyVerdict::Valid);
    }

    #[test]
    fn masking_keeps_head_and_tail() {
        assert_eq!(mask_openai_key("bad-key"), "bad-key");
        assert_eq!(
            mask_openai_key("bad-0123456789abcdef"),
            "bad-0123********cdef"
        );
        assert_eq!(mask_openai_key("bad-ééééééééééé"), "bad-éééé***éééé");
    }
}
