//! Grounded answers: the `googleSearch` and `urlContext` tools, what Google
//! refuses about them, and the metadata a grounded candidate carries.
//!
//! Refusals (400 `INVALID_ARGUMENT`, in Google's words):
//! * the legacy `googleSearchRetrieval` tool, which current models refuse:
//!   `google_search_retrieval is not supported. Please use google_search tool
//!   instead.`;
//! * a built-in tool (`googleSearch`, `urlContext`) next to function
//!   declarations: Gemini 2.x refuses the mix (`Tool use with function
//!   calling is unsupported by the model.`), Gemini 3 takes it only with
//!   `toolConfig.includeServerSideToolInvocations` (`Please enable
//!   tool_config.include_server_side_tool_invocations to use Built-in tools
//!   with Function calling.`);
//! * more URLs than the URL context tool reads (see [`super::url_context`]).
//!
//! An accepted request is grounded once, for all its candidates ([`Plan`]):
//! the search it ran ([`super::search`]) and the URLs it read. A candidate
//! that answers with text then carries `groundingMetadata`: with a search,
//! `webSearchQueries` and `searchEntryPoint`; `groundingChunks` (the pages
//! read, then the search's sources) and `groundingSupports`, one per
//! sentence of the answer, whose `segment` is given in UTF-8 byte offsets
//! into the answer's text (`startIndex` left out when 0, as proto3 JSON
//! leaves zeros out), with the text it covers and the chunks it cites. With
//! the URL context tool, every candidate carries `urlContextMetadata`.
//! A searched prose answer opens with `On “query”: `, so it reads as an
//! answer to the search (and its offsets are not character offsets).

use serde_json::{Value, json};

use super::search::{self, Search, Source};
use super::url_context::{self, Fetch};
use crate::prng::Digest;

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The grounding tools a (normalised) request declares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tools {
    pub search: bool,
    pub url_context: bool,
}

impl Tools {
    pub fn of(req: &Value) -> Self {
        let has = |name: &str| list(&req["tools"]).iter().any(|t| t.get(name).is_some());
        Self {
            search: has("googleSearch"),
            url_context: has("urlContext"),
        }
    }

    fn any(self) -> bool {
        self.search || self.url_context
    }
}

/// Google's 400 message for grounding tools it refuses; `gemini3` says the
/// model is of the generation that can mix built-in tools and functions.
pub fn refusal(req: &Value, gemini3: bool, prompt: &str) -> Option<String> {
    let tools = list(&req["tools"]);
    if tools
        .iter()
        .any(|t| t.get("googleSearchRetrieval").is_some())
    {
        return Some(
            "google_search_retrieval is not supported. Please use google_search tool instead."
                .to_owned(),
        );
    }
    let declared = Tools::of(req);
    let functions = tools
        .iter()
        .any(|t| !list(&t["functionDeclarations"]).is_empty());
    if declared.any() && functions {
        if !gemini3 {
            return Some("Tool use with function calling is unsupported by the model.".to_owned());
        }
        if req["toolConfig"]["includeServerSideToolInvocations"] != json!(true) {
            return Some(
                "Please enable tool_config.include_server_side_tool_invocations to use Built-in tools with Function calling."
                    .to_owned(),
            );
        }
    }
    if declared.url_context {
        return url_context::refusal(prompt);
    }
    None
}

/// What a request's grounding tools did before the model answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    search: Option<Search>,
    fetched: Vec<Fetch>,
}

impl Plan {
    /// The grounding of a request whose last user turn says `prompt`;
    /// `None` without grounding tools.
    pub fn new(req: &Value, prompt: &str, seed: u64) -> Option<Self> {
        let tools = Tools::of(req);
        tools.any().then(|| Self {
            search: tools.search.then(|| search::search(prompt, seed)),
            fetched: if tools.url_context {
                url_context::fetch(prompt, seed)
            } else {
                Vec::new()
            },
        })
    }

    /// Tokens of the pages read (`toolUsePromptTokenCount`).
    pub fn tool_use_tokens(&self) -> u64 {
        self.fetched.iter().map(|f| f.tokens).sum()
    }

    /// How a searched prose answer opens.
    pub fn lead(&self) -> Option<String> {
        let query = self.search.as_ref()?.queries.first()?;
        Some(format!("On “{query}”: "))
    }

    /// `urlContextMetadata`, when the URL context tool was declared.
    pub fn url_context_metadata(&self, tools: Tools) -> Option<Value> {
        tools
            .url_context
            .then(|| url_context::metadata(&self.fetched))
    }

    /// The pages an answer can cite: those read, then those found.
    fn sources(&self) -> Vec<Source> {
        let read = self.fetched.iter().filter(|f| f.ok).map(|f| Source {
            uri: f.url.clone(),
            title: url_context::host(&f.url).unwrap_or_else(|| f.url.clone()),
        });
        let found = self.search.iter().flat_map(|s| s.sources.iter().cloned());
        read.chain(found).collect()
    }

    /// `groundingMetadata` for a candidate answering `text`; `None` when
    /// nothing was searched or read.
    pub fn metadata(&self, text: &str, digest: Digest) -> Option<Value> {
        let sources = self.sources();
        if sources.is_empty() && self.search.is_none() {
            return None;
        }
        let mut m = serde_json::Map::new();
        if let Some(search) = &self.search {
            m.insert("webSearchQueries".into(), json!(search.queries));
            m.insert("searchEntryPoint".into(), search.entry_point());
        }
        m.insert(
            "groundingChunks".into(),
            sources.iter().map(Source::chunk).collect(),
        );
        m.insert(
            "groundingSupports".into(),
            Value::Array(supports(text, sources.len(), digest)),
        );
        Some(Value::Object(m))
    }
}

/// One support per sentence of `text`, citing one or two of `chunks`.
fn supports(text: &str, chunks: usize, digest: Digest) -> Vec<Value> {
    if chunks == 0 {
        return Vec::new();
    }
    sentences(text)
        .into_iter()
        .enumerate()
        .map(|(k, (start, end))| {
            let first = (digest.number(k as u64).value() % chunks as u64) as usize;
            let mut cited = vec![first];
            if chunks > 1 && k % 2 == 1 {
                cited.push((first + 1) % chunks);
            }
            let mut segment = serde_json::Map::new();
            if start > 0 {
                segment.insert("startIndex".into(), json!(start));
            }
            segment.insert("endIndex".into(), json!(end));
            segment.insert("text".into(), json!(&text[start..end]));
            json!({ "segment": segment, "groundingChunkIndices": cited })
        })
        .collect()
}

/// Byte ranges of the sentences of `text`: each ends after a `.`, `!` or
/// `?` that is followed by a space or the end; the space between is in
/// neither. Trailing text without a full stop is a sentence too.
fn sentences(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at_end = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
        if matches!(c, '.' | '!' | '?') && at_end {
            let end = i + c.len_utf8();
            out.push((start, end));
            start = end;
            while let Some((j, space)) = chars.next_if(|(_, n)| n.is_whitespace()) {
                start = j + space.len_utf8();
            }
        }
    }
    if text[start..].trim().is_empty() {
        out
    } else {
        out.push((start, text.len()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(tools: Value) -> Value {
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "tools": tools})
    }

    #[test]
    fn refusals_follow_google() {
        let legacy = req(json!([{"googleSearchRetrieval": {}}]));
        assert!(
            refusal(&legacy, true, "")
                .unwrap()
                .starts_with("google_search_retrieval is not supported")
        );
        let mixed = req(json!([{"googleSearch": {}}, {"functionDeclarations": [{"name": "f"}]}]));
        assert_eq!(
            refusal(&mixed, false, "").as_deref(),
            Some("Tool use with function calling is unsupported by the model.")
        );
        assert!(
            refusal(&mixed, true, "")
                .unwrap()
                .starts_with("Please enable tool_config.include_server_side_tool_invocations")
        );
        let mut allowed = mixed.clone();
        allowed["toolConfig"] = json!({"includeServerSideToolInvocations": true});
        assert_eq!(refusal(&allowed, true, ""), None);
        assert_eq!(
            refusal(&req(json!([{"googleSearch": {}}])), false, ""),
            None
        );
        let many: String = (0..21).map(|i| format!("https://x.example/{i} ")).collect();
        assert!(refusal(&req(json!([{"urlContext": {}}])), false, &many).is_some());
        assert_eq!(
            refusal(&req(json!([{"googleSearch": {}}])), false, &many),
            None
        );
    }

    #[test]
    fn sentences_are_byte_ranges() {
        let text = "On “tour”: Spain won. Really? Yes";
        let ranges = sentences(text);
        let pieces: Vec<&str> = ranges.iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(pieces, ["On “tour”: Spain won.", "Really?", "Yes"]);
        assert_eq!(ranges[1].0, "On “tour”: Spain won. ".len());
        assert_eq!(sentences("One. Two.  "), [(0, 4), (5, 9)]);
        assert_eq!(sentences(""), []);
        assert_eq!(sentences("3.5 is a version."), [(0, 17)]);
    }

    #[test]
    fn a_searched_answer_is_grounded_sentence_by_sentence() {
        let body = req(json!([{"googleSearch": {}}]));
        let plan = Plan::new(&body, "Who won the Euro 2024?", 0).unwrap();
        let lead = plan.lead().unwrap();
        assert_eq!(lead, "On “who won the euro 2024”: ");
        let text = format!("{lead}Spain won. They beat England.");
        let m = plan.metadata(&text, Digest::new(0)).unwrap();
        assert_eq!(m["webSearchQueries"][0], "who won the euro 2024");
        assert!(
            m["searchEntryPoint"]["renderedContent"]
                .as_str()
                .unwrap()
                .contains("class=\"chip\"")
        );
        let chunks = m["groundingChunks"].as_array().unwrap();
        let supports = m["groundingSupports"].as_array().unwrap();
        assert_eq!(supports.len(), 2);
        assert!(supports[0]["segment"].get("startIndex").is_none());
        for s in supports {
            let seg = &s["segment"];
            let start = seg["startIndex"].as_u64().unwrap_or(0) as usize;
            let end = seg["endIndex"].as_u64().unwrap() as usize;
            assert_eq!(&text[start..end], seg["text"].as_str().unwrap());
            for i in s["groundingChunkIndices"].as_array().unwrap() {
                assert!((i.as_u64().unwrap() as usize) < chunks.len());
            }
        }
        assert_eq!(supports[1]["segment"]["text"], "They beat England.");
        assert_eq!(plan.url_context_metadata(Tools::of(&body)), None);
        assert_eq!(plan.tool_use_tokens(), 0);
    }

    #[test]
    fn read_pages_are_cited_and_reported() {
        let body = req(json!([{"urlContext": {}}]));
        let prompt = "Summarise https://docs.example/a and https://gone.invalid/b";
        let plan = Plan::new(&body, prompt, 0).unwrap();
        assert!(plan.lead().is_none());
        assert!(plan.tool_use_tokens() > 500);
        let m = plan.metadata("It says hello.", Digest::new(0)).unwrap();
        assert_eq!(
            m["groundingChunks"],
            json!([{"web": {"uri": "https://docs.example/a", "title": "docs.example"}}])
        );
        assert!(m.get("webSearchQueries").is_none() && m.get("searchEntryPoint").is_none());
        let meta = plan.url_context_metadata(Tools::of(&body)).unwrap();
        assert_eq!(meta["urlMetadata"].as_array().unwrap().len(), 2);
        let nothing_read = Plan::new(&body, "No links here.", 0).unwrap();
        assert_eq!(nothing_read.metadata("Fine.", Digest::new(0)), None);
        assert_eq!(Plan::new(&req(json!([])), prompt, 0), None);
    }
}
