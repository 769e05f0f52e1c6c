//! The URL context tool (`urlContext`), simulated: the `http(s)` URLs of the
//! prompt are "fetched" deterministically, with no network.
//!
//! * The URLs are those written in the last user turn's text, in order,
//!   each once, with the punctuation a sentence puts around them trimmed.
//!   Google reads at most [`MAX_URLS`]; more is its 400, `Number of urls to
//!   lookup exceeds the limit (21 > 20)`.
//! * A URL whose host is under `.invalid` (the top-level domain that never
//!   resolves, RFC 6761) fails (`URL_RETRIEVAL_STATUS_ERROR`); any other
//!   succeeds (`URL_RETRIEVAL_STATUS_SUCCESS`).
//! * What was read is billed as tool-use prompt tokens
//!   (`toolUsePromptTokenCount`): 500 to 2,999 tokens per page read, drawn
//!   from the URL, and 100 to 199 for a failed one (Google still counts a
//!   little for those).

use rand::Rng;
use serde_json::{Value, json};

use crate::prng::Digest;

/// The most URLs one request may have read.
pub const MAX_URLS: usize = 20;

/// One URL the tool read (or tried to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub url: String,
    pub ok: bool,
    pub tokens: u64,
}

/// The URLs of a prompt's text, in order, each once.
pub fn urls(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        let url = word
            .trim_start_matches(['(', '<', '"', '\'', '[', '«'])
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '>', '"', '\'', ']', '»']);
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if rest.is_some_and(|r| !r.is_empty()) && !found.contains(&url) {
            found.push(url);
        }
    }
    found
}

/// Google's 400 when the prompt names too many URLs.
pub fn refusal(text: &str) -> Option<String> {
    let n = urls(text).len();
    (n > MAX_URLS).then(|| format!("Number of urls to lookup exceeds the limit ({n} > {MAX_URLS})"))
}

/// Reads every URL of the prompt's text.
pub fn fetch(text: &str, seed: u64) -> Vec<Fetch> {
    urls(text)
        .into_iter()
        .map(|url| {
            let mut rng = Digest::new(seed).part("url-context").part(url).rng();
            let ok = !host(url).is_some_and(|h| h == "invalid" || h.ends_with(".invalid"));
            let tokens = if ok {
                rng.random_range(500..3_000)
            } else {
                rng.random_range(100..200)
            };
            Fetch {
                url: url.to_owned(),
                ok,
                tokens,
            }
        })
        .collect()
}

/// The lower-case host of an `http(s)` URL, without port or credentials.
pub fn host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.trim_end_matches('.').to_lowercase())
}

/// `urlContextMetadata` for what was read.
pub fn metadata(fetched: &[Fetch]) -> Value {
    let entries: Vec<Value> = fetched
        .iter()
        .map(|f| {
            let status = if f.ok {
                "URL_RETRIEVAL_STATUS_SUCCESS"
            } else {
                "URL_RETRIEVAL_STATUS_ERROR"
            };
            json!({ "retrievedUrl": f.url, "urlRetrievalStatus": status })
        })
        .collect();
    json!({ "urlMetadata": entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_from_prose() {
        assert_eq!(
            urls(
                "Compare https://a.example/x, (http://b.example/y?q=1) and https://a.example/x. Also ftp://c and https://"
            ),
            ["https://a.example/x", "http://b.example/y?q=1"]
        );
        let many: String = (0..21).map(|i| format!("https://e.example/{i} ")).collect();
        assert_eq!(
            refusal(&many).as_deref(),
            Some("Number of urls to lookup exceeds the limit (21 > 20)")
        );
        assert_eq!(refusal("https://e.example/1"), None);
    }

    #[test]
    fn fetching_is_deterministic_and_invalid_hosts_fail() {
        let text = "Read https://docs.example/page and https://down.invalid/x";
        let fetched = fetch(text, 1);
        assert_eq!(fetched, fetch(text, 1));
        assert!(fetched[0].ok && (500..3_000).contains(&fetched[0].tokens));
        assert!(!fetched[1].ok && (100..200).contains(&fetched[1].tokens));
        assert_eq!(
            metadata(&fetched),
            json!({"urlMetadata": [
                {"retrievedUrl": "https://docs.example/page", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"},
                {"retrievedUrl": "https://down.invalid/x", "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_ERROR"}
            ]})
        );
    }

    #[test]
    fn hosts() {
        assert_eq!(
            host("https://user@Docs.Example:8443/a").as_deref(),
            Some("docs.example")
        );
        assert_eq!(host("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(host("https://x.invalid./").as_deref(), Some("x.invalid"));
        assert_eq!(host("nope"), None);
    }
}
