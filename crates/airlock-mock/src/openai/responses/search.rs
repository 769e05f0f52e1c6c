//! The hosted web search tool (`web_search`, `web_search_preview` and their
//! dated versions), simulated with no network.
//!
//! A request that offers the tool, and does not say `tool_choice: "none"`,
//! searches once before a text answer: the answer is then preceded by one
//! `web_search_call` item (`ws_…`, `completed`, `action: {"type": "search",
//! "query"}`, with `action.sources` when `include` asks for
//! `web_search_call.action.sources`). A prose answer cites its sources as
//! OpenAI's do, inline after a sentence (` ([domain](url))`), each citation
//! a `url_citation` annotation on the `output_text` part whose
//! `start_index` and `end_index` are character offsets of that inline
//! link. A call or a JSON answer is not cited.
//!
//! The query is the last user message's first eight words (lower case,
//! punctuation trimmed); the two to four sources are drawn from it, so the
//! same question always finds the same pages.

use rand::Rng;
use serde_json::{Value, json};

use super::items::hex_id;
use crate::openai::request::list;
use crate::prng::Digest;
use crate::reply::{Answer, Finish, Format};
use crate::textgen;

const TOP_LEVEL_DOMAINS: [&str; 4] = ["com", "org", "net", "io"];

/// What one search found, and how the answer cites it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSearch {
    id: String,
    query: String,
    sources: Vec<Source>,
    with_sources: bool,
    annotations: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq)]
struct Source {
    url: String,
    title: String,
    domain: String,
}

/// Whether the request offers a web search tool the model may use.
fn offered(body: &Value) -> bool {
    body["tool_choice"] != "none"
        && list(&body["tools"]).iter().any(|t| {
            t["type"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("web_search"))
        })
}

/// Searches for a text answer when the request offers the tool; the answer
/// comes back cited when it is prose. `ids` draws the call's id.
pub fn run(
    body: &Value,
    answer: Answer,
    format: Format<'_>,
    question: &str,
    seed: u64,
    ids: Digest,
) -> (Answer, Option<WebSearch>) {
    let Answer::Text { text, finish } = answer else {
        return (answer, None);
    };
    if !offered(body) {
        return (Answer::Text { text, finish }, None);
    }
    let digest = Digest::new(seed).part("web-search").part(question);
    let mut search = WebSearch {
        id: hex_id("ws_", ids.part("web-search")),
        query: query(question, digest),
        sources: sources(digest),
        with_sources: list(&body["include"])
            .iter()
            .any(|i| i == "web_search_call.action.sources"),
        annotations: Vec::new(),
    };
    let text = match (format, finish) {
        (Format::Text, Finish::Stop) => search.cite(&text),
        _ => text,
    };
    (Answer::Text { text, finish }, Some(search))
}

fn query(question: &str, digest: Digest) -> String {
    let words: Vec<String> = question
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .take(8)
        .collect();
    if words.is_empty() {
        textgen::phrase(&mut digest.part("query").rng(), 3)
    } else {
        words.join(" ")
    }
}

fn sources(digest: Digest) -> Vec<Source> {
    let mut rng = digest.part("sources").rng();
    let wanted = rng.random_range(2..=4usize);
    let mut found: Vec<Source> = Vec::new();
    while found.len() < wanted {
        let tld = TOP_LEVEL_DOMAINS[rng.random_range(0..TOP_LEVEL_DOMAINS.len())];
        let domain = format!("{}.{tld}", textgen::phrase(&mut rng, 1));
        if found.iter().any(|s| s.domain == domain) {
            continue;
        }
        let slug = textgen::phrase(&mut rng, 3).replace(' ', "-");
        let mut title = textgen::phrase(&mut rng, 4);
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        found.push(Source {
            url: format!("https://{domain}/{slug}?utm_source=openai"),
            title,
            domain,
        });
    }
    found
}

impl WebSearch {
    /// `text` with a citation after each of its first sentences, one per
    /// source, noting each as an annotation.
    fn cite(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 80 * self.sources.len());
        let mut cited = 0;
        let mut rest = text;
        while cited < self.sources.len() {
            let Some(end) = rest
                .find(". ")
                .map(|i| i + 1)
                .or_else(|| (rest.ends_with('.') && !rest.is_empty()).then_some(rest.len()))
            else {
                break;
            };
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            let source = &self.sources[cited];
            let link = format!("([{}]({}))", source.domain, source.url);
            let start = out.chars().count() + 1;
            out.push(' ');
            out.push_str(&link);
            self.annotations.push(json!({
                "type": "url_citation",
                "end_index": start + link.chars().count(),
                "start_index": start,
                "title": source.title,
                "url": source.url,
            }));
            cited += 1;
        }
        out.push_str(rest);
        out
    }

    pub fn annotations(&self) -> &[Value] {
        &self.annotations
    }

    /// The `web_search_call` item; `started`: as `output_item.added` shows it.
    pub fn item(&self, started: bool) -> Value {
        if started {
            return json!({ "id": self.id, "type": "web_search_call", "status": "in_progress", "action": { "type": "search" } });
        }
        let mut action = json!({ "type": "search", "query": self.query });
        if self.with_sources {
            action["sources"] = self
                .sources
                .iter()
                .map(|s| json!({ "type": "url", "url": s.url }))
                .collect();
        }
        json!({ "id": self.id, "type": "web_search_call", "status": "completed", "action": action })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose(t: &str) -> Answer {
        Answer::Text {
            text: t.into(),
            finish: Finish::Stop,
        }
    }

    #[test]
    fn a_searched_answer_cites_its_sources_inline() {
        let body = json!({"tools": [{"type": "web_search"}]});
        let (answer, search) = run(
            &body,
            prose("Spain won. They beat England. Final."),
            Format::Text,
            "Who won the Euro 2024?",
            0,
            Digest::new(1),
        );
        let search = search.unwrap();
        let Answer::Text { text, .. } = answer else {
            panic!()
        };
        assert!(text.starts_with("Spain won. (["), "{text}");
        assert!(search.annotations.len() >= 2);
        let chars: Vec<char> = text.chars().collect();
        for a in search.annotations() {
            let (s, e) = (
                a["start_index"].as_u64().unwrap() as usize,
                a["end_index"].as_u64().unwrap() as usize,
            );
            let cited: String = chars[s..e].iter().collect();
            assert!(cited.starts_with("([") && cited.ends_with("))"), "{cited}");
            assert!(cited.contains(a["url"].as_str().unwrap()));
        }
        let item = search.item(false);
        assert_eq!(item["action"]["query"], "who won the euro 2024");
        assert!(item["action"].get("sources").is_none());
        assert!(item["id"].as_str().unwrap().starts_with("ws_"));
        assert_eq!(search.item(true)["status"], "in_progress");
        let (_, again) = run(
            &body,
            prose("x."),
            Format::Text,
            "Who won the Euro 2024?",
            0,
            Digest::new(9),
        );
        assert_eq!(
            again.unwrap().sources,
            search.sources,
            "same question, same pages"
        );
    }

    #[test]
    fn only_offered_searches_run_and_only_prose_is_cited() {
        let call = Answer::Call {
            name: "f".into(),
            args: json!({}),
        };
        let offered = json!({"tools": [{"type": "web_search_preview"}], "include": ["web_search_call.action.sources"]});
        assert!(
            run(&offered, call, Format::Text, "q", 0, Digest::new(0))
                .1
                .is_none()
        );
        let refused = json!({"tools": [{"type": "web_search"}], "tool_choice": "none"});
        assert!(
            run(&refused, prose("a."), Format::Text, "q", 0, Digest::new(0))
                .1
                .is_none()
        );
        let (answer, search) = run(
            &offered,
            prose("{\"a\": 1}"),
            Format::JsonObject,
            "q",
            0,
            Digest::new(0),
        );
        assert_eq!(answer, prose("{\"a\": 1}"));
        let search = search.unwrap();
        assert!(search.annotations().is_empty());
        assert_eq!(search.item(false)["action"]["sources"][0]["type"], "url");
    }
}
