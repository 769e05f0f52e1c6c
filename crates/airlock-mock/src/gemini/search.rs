//! Grounding with Google Search, simulated: what the `googleSearch` tool
//! "searched" and "found" for a prompt, with no network.
//!
//! Everything is drawn from a [`Digest`] of (seed, prompt text), so the same
//! prompt always gives the same queries and sources, whatever the model:
//!
//! * Queries (`webSearchQueries`): one to three. The first is the prompt's
//!   first eight words, lower case, without the punctuation around them (a
//!   few vocabulary words when the prompt has no text); the others add a word
//!   to it (`… latest`, `… explained`).
//! * Sources (`groundingChunks[].web`): two to four, each a Vertex AI Search
//!   redirect URI (`https://vertexaisearch.cloud.google.com/grounding-api-redirect/…`,
//!   as Google returns them) titled with a domain name, as Google titles them.
//! * `searchEntryPoint.renderedContent`: the HTML search chips Google asks
//!   apps to show, one link to Google Search per query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde_json::{Value, json};

use crate::prng::Digest;
use crate::textgen;

/// Words a follow-up query adds to the first.
const REFINEMENTS: [&str; 5] = ["latest", "explained", "overview", "facts", "history"];
const TOP_LEVEL_DOMAINS: [&str; 4] = ["com", "org", "net", "io"];
const REDIRECT: &str = "https://vertexaisearch.cloud.google.com/grounding-api-redirect/";

/// One search step: the queries run and the pages found.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub queries: Vec<String>,
    pub sources: Vec<Source>,
}

/// A page a grounded answer can cite.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub uri: String,
    pub title: String,
}

impl Source {
    /// The `groundingChunks` entry.
    pub fn chunk(&self) -> Value {
        json!({ "web": { "uri": self.uri, "title": self.title } })
    }
}

/// The search a prompt's text leads to.
pub fn search(prompt: &str, seed: u64) -> Search {
    let digest = Digest::new(seed).part("google-search").part(prompt);
    let mut rng = digest.rng();
    let first = match key_phrase(prompt) {
        phrase if phrase.is_empty() => textgen::phrase(&mut rng, 3),
        phrase => phrase,
    };
    let count = rng.random_range(1..=3);
    let mut queries = vec![first.clone()];
    let start = rng.random_range(0..REFINEMENTS.len());
    queries.extend(
        (1..count).map(|k| format!("{first} {}", REFINEMENTS[(start + k) % REFINEMENTS.len()])),
    );
    let wanted = rng.random_range(2..=4usize);
    let mut titles: Vec<String> = Vec::new();
    while titles.len() < wanted {
        let tld = TOP_LEVEL_DOMAINS[rng.random_range(0..TOP_LEVEL_DOMAINS.len())];
        let title = format!("{}.{tld}", textgen::phrase(&mut rng, 1));
        if !titles.contains(&title) {
            titles.push(title);
        }
    }
    let sources = titles
        .into_iter()
        .enumerate()
        .map(|(k, title)| Source {
            uri: redirect_uri(digest.number(k as u64)),
            title,
        })
        .collect();
    Search { queries, sources }
}

/// The prompt's first eight words, lower case, trimmed of punctuation.
fn key_phrase(prompt: &str) -> String {
    prompt
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .take(8)
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// An opaque redirect, as long as Google's are.
fn redirect_uri(digest: Digest) -> String {
    let bytes: Vec<u8> = (0..12)
        .flat_map(|k| digest.number(k).value().to_le_bytes())
        .collect();
    format!("{REDIRECT}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl Search {
    /// `searchEntryPoint`: Google's search chips, one per query.
    pub fn entry_point(&self) -> Value {
        let chips: String = self
            .queries
            .iter()
            .map(|q| {
                format!(
                    "<a class=\"chip\" href=\"https://www.google.com/search?q={}&amp;client=app-vertex-grounding&amp;safesearch=active\">{}</a>",
                    percent_encode(q),
                    html_escape(q)
                )
            })
            .collect();
        let html = format!(
            "<style>\n.container {{ align-items: center; border-radius: 8px; display: flex; font-family: Google Sans, Roboto, sans-serif; font-size: 14px; line-height: 20px; padding: 8px 12px; }}\n.chip {{ display: inline-block; border: solid 1px; border-radius: 16px; min-width: 14px; padding: 5px 16px; text-align: center; user-select: none; margin: 0 8px; }}\n.carousel {{ overflow: auto; scrollbar-width: none; white-space: nowrap; margin-right: -12px; }}\n</style>\n<div class=\"container\">\n  <div class=\"headline\"></div>\n  <div class=\"carousel\">{chips}</div>\n</div>\n"
        );
        json!({ "renderedContent": html })
    }
}

/// `text` for a URL query: unreserved characters kept, spaces as `+`,
/// every other byte as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_prompt_searches_the_same_way() {
        let a = search("Who won the Tour de France in 2024?", 0);
        assert_eq!(a, search("Who won the Tour de France in 2024?", 0));
        assert_ne!(a, search("Who won the Giro d'Italia in 2024?", 0));
        assert_eq!(a.queries[0], "who won the tour de france in 2024");
        assert!((1..=3).contains(&a.queries.len()));
        assert!(a.queries[1..].iter().all(|q| q.starts_with(&a.queries[0])));
        assert!((2..=4).contains(&a.sources.len()));
        for source in &a.sources {
            assert!(source.uri.starts_with(REDIRECT) && source.uri.len() > REDIRECT.len() + 100);
            assert!(source.title.contains('.'));
        }
        let titles: std::collections::HashSet<&str> =
            a.sources.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles.len(), a.sources.len(), "distinct sources");
    }

    #[test]
    fn queries_keep_letters_of_any_script() {
        assert_eq!(
            key_phrase("  « Résumé » du Tour, s'il vous plaît !"),
            "résumé du tour s'il vous plaît"
        );
        assert!(!search("", 3).queries[0].is_empty());
    }

    #[test]
    fn the_entry_point_links_each_query_safely() {
        let s = Search {
            queries: vec!["café <b>&".into()],
            sources: Vec::new(),
        };
        let html = s.entry_point()["renderedContent"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(html.contains("q=caf%C3%A9+%3Cb%3E%26&amp;client=app-vertex-grounding"));
        assert!(html.contains(">café &lt;b&gt;&amp;</a>"));
        assert!(!html.contains("<b>"));
    }
}
