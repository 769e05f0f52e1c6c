//! The token-counting rule used by usage reports and `countTokens` alike:
//! a text costs ceil(characters / 4) tokens (characters = Unicode scalar
//! values), every media part (image, audio, video, file) costs a flat
//! [`MEDIA_PART_TOKENS`], and structured values (function calls and
//! results, tool declarations) cost the tokens of their compact JSON text.

use serde_json::Value;

/// Tokens charged for each image, audio, video or file part.
pub const MEDIA_PART_TOKENS: u64 = 258;

pub fn text_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

pub fn json_tokens(value: &Value) -> u64 {
    text_tokens(&value.to_string())
}

/// Cuts `text` so that it costs at most `max_tokens`; `None` if it already does.
pub fn truncate(text: &str, max_tokens: u64) -> Option<String> {
    if text_tokens(text) <= max_tokens {
        return None;
    }
    let keep = usize::try_from(max_tokens.saturating_mul(4)).unwrap_or(usize::MAX);
    Some(text.chars().take(keep).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rule() {
        assert_eq!(text_tokens(""), 0);
        assert_eq!(text_tokens("a"), 1);
        assert_eq!(text_tokens("abcd"), 1);
        assert_eq!(text_tokens("abcde"), 2);
        assert_eq!(text_tokens("éééé"), 1);
        assert_eq!(json_tokens(&serde_json::json!({"a": 1})), 2);
    }

    #[test]
    fn truncation_fits_the_budget() {
        assert_eq!(truncate("abcdefghij", 3), None);
        let cut = truncate("abcdefghij", 2).unwrap();
        assert_eq!(cut, "abcdefgh");
        assert_eq!(truncate("abc", 0).unwrap(), "");
    }
}
