//! OpenAI's hosted web search tool ⇄ Gemini's Grounding with Google Search,
//! for the Responses translation.
//!
//! Request: a `web_search` tool (or `web_search_2025_08_26`,
//! `web_search_preview`, `web_search_preview_2025_03_11`) becomes Gemini's
//! `{"googleSearch": {}}` tool, unless `tool_choice` is `none`. Its options:
//! * `search_context_size` (how much of the context the search may fill)
//!   is guidance Gemini has no setting for: checked, then left out;
//! * `user_location` with `type: "approximate"` alone is accepted, but a
//!   city, country, region or time zone is refused by name: Gemini's search
//!   takes no place names (only coordinates, in `toolConfig`), and results
//!   for the wrong place would be a silent error;
//! * `filters.allowed_domains` (non-empty) is refused: Gemini's Google
//!   Search has no allow-list;
//! * `external_web_access: false` (cached results only) is refused: Gemini
//!   always searches live;
//! * `search_content_types` with `image` is refused (text only).
//!
//! With function declarations next to it, Gemini 3 needs
//! `toolConfig.includeServerSideToolInvocations` (Gemini 2.x refuses the
//! mix, and its 400 reaches the client in OpenAI's shape).
//!
//! Answer: the candidate's `groundingMetadata` becomes one `web_search_call`
//! item (`ws_…`, `completed`, `action: {"type": "search", "query": <first
//! query>, "queries": [...]}`, with `action.sources` when `include` asks for
//! `web_search_call.action.sources`), put before the message, and the
//! message's `url_citation` annotations: one per grounding support and
//! chunk it cites, with the chunk's `uri` and `title`. Gemini gives a
//! segment in UTF-8 byte offsets into the answer's text; OpenAI's
//! `start_index`/`end_index` are character offsets (what Python's `str`
//! slicing takes), so offsets are converted, and a segment whose offsets do
//! not fit the text is found by its `text` instead (or left out). A request
//! that offered the tool gets the item even when Gemini answered without
//! searching (then `queries` is empty), so the stream, which must announce
//! the item before the answer's text, and the complete answer agree.

use serde_json::{Value, json};

use crate::translate::params::{Params, TranslateError};

/// The tool types that search the web.
const TOOL_TYPES: [&str; 4] = [
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
];

/// Whether a Responses tool `type` is the web search tool.
pub(super) fn is_web_search(kind: &str) -> bool {
    TOOL_TYPES.contains(&kind)
}

/// Checks a web search tool's options (see the module doc).
pub(super) fn check_tool(tool: &Params<'_>) -> Result<(), TranslateError> {
    let preview = tool
        .required_string("type")?
        .starts_with("web_search_preview");
    let known: &[&str] = if preview {
        &[
            "type",
            "search_context_size",
            "user_location",
            "search_content_types",
        ]
    } else {
        &[
            "type",
            "search_context_size",
            "user_location",
            "filters",
            "external_web_access",
        ]
    };
    if let Some(key) = tool.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(TranslateError::new(
            format!("Unknown parameter: '{}'.", tool.path(key)),
            Some(&tool.path(key)),
        ));
    }
    if let Some(size) = tool.string("search_context_size")?
        && !["low", "medium", "high"].contains(&size)
    {
        return Err(TranslateError::invalid_value(
            &tool.path("search_context_size"),
            size,
            &["low", "medium", "high"],
        ));
    }
    if let Some(location) = tool.get("user_location") {
        check_location(&Params::of(location, tool.path("user_location"))?)?;
    }
    if let Some(filters) = tool.get("filters") {
        let filters = Params::of(filters, tool.path("filters"))?;
        if let Some(key) = filters.keys().find(|k| k.as_str() != "allowed_domains") {
            return Err(TranslateError::new(
                format!("Unknown parameter: '{}'.", filters.path(key)),
                Some(&filters.path(key)),
            ));
        }
        if filters
            .array("allowed_domains")?
            .is_some_and(|domains| !domains.is_empty())
        {
            return Err(refused(
                "Restricting web search to 'allowed_domains'",
                &filters.path("allowed_domains"),
            ));
        }
    }
    if tool.boolean("external_web_access")? == Some(false) {
        return Err(refused(
            "Web search from cached results only ('external_web_access': false)",
            &tool.path("external_web_access"),
        ));
    }
    for (i, kind) in tool
        .array("search_content_types")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("{}[{i}]", tool.path("search_content_types"));
        match kind.as_str() {
            Some("text") => {}
            Some("image") => return Err(refused("Image search results", &path)),
            Some(other) => {
                return Err(TranslateError::invalid_value(
                    &path,
                    other,
                    &["text", "image"],
                ));
            }
            None => return Err(TranslateError::invalid_type(&path, "a string", kind)),
        }
    }
    Ok(())
}

fn check_location(location: &Params<'_>) -> Result<(), TranslateError> {
    const PLACES: [&str; 4] = ["city", "country", "region", "timezone"];
    if let Some(key) = location
        .keys()
        .find(|k| k.as_str() != "type" && !PLACES.contains(&k.as_str()))
    {
        return Err(TranslateError::new(
            format!("Unknown parameter: '{}'.", location.path(key)),
            Some(&location.path(key)),
        ));
    }
    if let Some(kind) = location.string("type")?
        && kind != "approximate"
    {
        return Err(TranslateError::invalid_value(
            &location.path("type"),
            kind,
            &["approximate"],
        ));
    }
    for place in PLACES {
        if location.string(place)?.is_some() {
            return Err(refused(
                "Localising web search with a 'user_location'",
                &location.path(place),
            ));
        }
    }
    Ok(())
}

fn refused(what: &str, param: &str) -> TranslateError {
    TranslateError::new(
        format!("{what} is not supported with this model."),
        Some(param),
    )
}

/// Whether the (already checked) request lets the model search the web.
pub(super) fn searches(request: &Value) -> bool {
    request["tool_choice"] != "none"
        && request["tools"].as_array().is_some_and(|tools| {
            tools
                .iter()
                .any(|t| t["type"].as_str().is_some_and(is_web_search))
        })
}

/// Adds Google Search to a translated Gemini body, and lets Gemini 3 mix
/// it with the body's function declarations.
pub(super) fn add_google_search(body: &mut Value) {
    let Some(object) = body.as_object_mut() else {
        return;
    };
    let tools = object.entry("tools").or_insert_with(|| json!([]));
    let with_functions = tools.as_array().is_some_and(|t| {
        t.iter()
            .any(|tool| tool.get("functionDeclarations").is_some())
    });
    if let Some(tools) = tools.as_array_mut() {
        tools.push(json!({"googleSearch": {}}));
    }
    if with_functions {
        let config = object.entry("toolConfig").or_insert_with(|| json!({}));
        if let Some(config) = config.as_object_mut() {
            config.insert("includeServerSideToolInvocations".into(), json!(true));
        }
    }
}

/// What Gemini's search did for one candidate.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Grounding {
    queries: Vec<String>,
    /// `(uri, title)` of each grounding chunk, in order (`None` for a chunk
    /// that is not a web page).
    sources: Vec<Option<(String, String)>>,
    supports: Vec<Value>,
}

impl Grounding {
    /// The grounding of a Gemini candidate; `None` without
    /// `groundingMetadata`.
    pub(super) fn of_candidate(candidate: &Value) -> Option<Self> {
        let metadata = candidate
            .get("groundingMetadata")
            .filter(|m| m.is_object())?;
        let list = |key: &str| metadata[key].as_array().cloned().unwrap_or_default();
        Some(Self {
            queries: list("webSearchQueries")
                .iter()
                .filter_map(|q| q.as_str().map(str::to_owned))
                .collect(),
            sources: list("groundingChunks")
                .iter()
                .map(|chunk| {
                    let web = &chunk["web"];
                    let uri = web["uri"].as_str()?;
                    let title = web["title"].as_str().unwrap_or(uri);
                    Some((uri.to_owned(), title.to_owned()))
                })
                .collect(),
            supports: list("groundingSupports"),
        })
    }

    /// The `url_citation` annotations of `text`, the answer Gemini grounded.
    pub(super) fn annotations(&self, text: &str) -> Vec<Value> {
        let mut out: Vec<Value> = Vec::new();
        for support in &self.supports {
            let Some((start, end)) = char_range(text, &support["segment"]) else {
                continue;
            };
            let cited = support["groundingChunkIndices"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            for index in cited.iter().filter_map(Value::as_u64) {
                let source = usize::try_from(index)
                    .ok()
                    .and_then(|i| self.sources.get(i))
                    .and_then(Option::as_ref);
                let Some((url, title)) = source else {
                    continue;
                };
                let annotation = json!({
                    "type": "url_citation",
                    "start_index": start,
                    "end_index": end,
                    "url": url,
                    "title": title,
                });
                if !out.contains(&annotation) {
                    out.push(annotation);
                }
            }
        }
        out
    }
}

/// A segment's character range in `text`: its byte offsets converted when
/// they fit the text (and its `text`, when given), else where its `text`
/// is found.
fn char_range(text: &str, segment: &Value) -> Option<(usize, usize)> {
    let offset = |key: &str| segment[key].as_u64().and_then(|n| usize::try_from(n).ok());
    let quoted = segment["text"].as_str().filter(|t| !t.is_empty());
    let start = offset("startIndex").unwrap_or(0);
    let by_offsets = offset("endIndex")
        .and_then(|end| text.get(start..end).map(|piece| (start, piece)))
        .filter(|(_, piece)| !piece.is_empty() && quoted.is_none_or(|q| q == *piece));
    let (start, piece) = match by_offsets {
        Some(found) => found,
        None => {
            let quoted = quoted?;
            (text.find(quoted)?, quoted)
        }
    };
    let start_chars = text[..start].chars().count();
    Some((start_chars, start_chars + piece.chars().count()))
}

/// The `web_search_call` item as `output_item.added` shows it.
pub(super) fn started_call(id: &str) -> Value {
    json!({"id": id, "type": "web_search_call", "status": "in_progress", "action": {"type": "search"}})
}

/// Whether `include` asks for the sources of a search.
pub(super) fn wants_sources(request: &Value) -> bool {
    request["include"].as_array().is_some_and(|include| {
        include
            .iter()
            .any(|i| i == "web_search_call.action.sources")
    })
}

/// The finished `web_search_call` item for what Gemini searched (nothing
/// when it answered without searching), with its sources when asked.
pub(super) fn finished_call(id: &str, grounding: Option<&Grounding>, with_sources: bool) -> Value {
    let queries = grounding.map(|g| g.queries.as_slice()).unwrap_or_default();
    let mut action = json!({"type": "search"});
    if let Some(first) = queries.first() {
        action["query"] = json!(first);
    }
    action["queries"] = json!(queries);
    if with_sources {
        let sources: Vec<Value> = grounding
            .into_iter()
            .flat_map(|g| g.sources.iter().flatten())
            .map(|(url, _)| json!({"type": "url", "url": url}))
            .collect();
        action["sources"] = Value::Array(sources);
    }
    json!({"id": id, "type": "web_search_call", "status": "completed", "action": action})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(tool: Value) -> Result<(), TranslateError> {
        check_tool(&Params::of(&tool, "tools[0]").unwrap())
    }

    #[test]
    fn options_are_kept_ignored_or_refused_by_name() {
        for ok in [
            json!({"type": "web_search"}),
            json!({"type": "web_search_2025_08_26", "search_context_size": "high", "filters": {"allowed_domains": []},
                   "external_web_access": true, "user_location": {"type": "approximate"}}),
            json!({"type": "web_search_preview", "search_content_types": ["text"], "user_location": null}),
        ] {
            assert!(check(ok.clone()).is_ok(), "{ok}");
        }
        let cases = [
            (
                json!({"type": "web_search", "user_location": {"type": "approximate", "city": "Paris"}}),
                "tools[0].user_location.city",
                "Localising web search with a 'user_location' is not supported with this model.",
            ),
            (
                json!({"type": "web_search", "filters": {"allowed_domains": ["a.org"]}}),
                "tools[0].filters.allowed_domains",
                "Restricting web search to 'allowed_domains' is not supported with this model.",
            ),
            (
                json!({"type": "web_search", "external_web_access": false}),
                "tools[0].external_web_access",
                "Web search from cached results only ('external_web_access': false) is not supported with this model.",
            ),
            (
                json!({"type": "web_search_preview", "search_content_types": ["text", "image"]}),
                "tools[0].search_content_types[1]",
                "Image search results is not supported with this model.",
            ),
            (
                json!({"type": "web_search", "search_context_size": "huge"}),
                "tools[0].search_context_size",
                "Invalid value: 'huge'. Supported values are: 'low', 'medium', and 'high'.",
            ),
            (
                json!({"type": "web_search_preview", "filters": {}}),
                "tools[0].filters",
                "Unknown parameter: 'tools[0].filters'.",
            ),
            (
                json!({"type": "web_search", "user_location": {"type": "exact"}}),
                "tools[0].user_location.type",
                "Invalid value: 'exact'. Supported values are: 'approximate'.",
            ),
        ];
        for (tool, param, message) in cases {
            let err = check(tool.clone()).unwrap_err();
            assert_eq!(
                (err.param.as_deref(), err.message.as_str()),
                (Some(param), message),
                "{tool}"
            );
        }
    }

    #[test]
    fn google_search_joins_the_tools() {
        let mut body = json!({"contents": []});
        add_google_search(&mut body);
        assert_eq!(body["tools"], json!([{"googleSearch": {}}]));
        assert!(body.get("toolConfig").is_none());
        let mut mixed = json!({"tools": [{"functionDeclarations": [{"name": "f"}]}],
                               "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}}});
        add_google_search(&mut mixed);
        assert_eq!(mixed["tools"][1], json!({"googleSearch": {}}));
        assert_eq!(
            mixed["toolConfig"],
            json!({"functionCallingConfig": {"mode": "AUTO"}, "includeServerSideToolInvocations": true})
        );
        assert!(searches(
            &json!({"tools": [{"type": "web_search_preview"}]})
        ));
        assert!(!searches(
            &json!({"tools": [{"type": "web_search"}], "tool_choice": "none"})
        ));
        assert!(!searches(&json!({"tools": [{"type": "function"}]})));
    }

    fn grounding() -> Grounding {
        Grounding::of_candidate(&json!({"groundingMetadata": {
            "webSearchQueries": ["euro 2024 winner", "euro 2024 final"],
            "groundingChunks": [
                {"web": {"uri": "https://r.example/1", "title": "uefa.com"}},
                {"retrievedContext": {"uri": "x"}},
                {"web": {"uri": "https://r.example/2", "title": "bbc.com"}}
            ],
            "groundingSupports": [
                {"segment": {"endIndex": 17, "text": "On “euro”: Sp"}, "groundingChunkIndices": [0]},
                {"segment": {"startIndex": 19, "endIndex": 34, "text": "Ils ont gagné."}, "groundingChunkIndices": [0, 1, 2, 9]},
                {"segment": {"startIndex": 500, "endIndex": 510, "text": "nowhere"}, "groundingChunkIndices": [0]},
                {"segment": {"startIndex": 3, "endIndex": 6}, "groundingChunkIndices": [2]},
                {"segment": {"startIndex": 2, "endIndex": 4}, "groundingChunkIndices": [2]}
            ]
        }}))
        .unwrap()
    }

    #[test]
    fn byte_offsets_become_character_offsets() {
        let text = "On “euro”: Sp. Ils ont gagné.";
        assert_eq!(text.find("Ils"), Some(19), "bytes");
        let annotations = grounding().annotations(text);
        assert_eq!(
            annotations,
            [
                json!({"type": "url_citation", "start_index": 0, "end_index": 13, "url": "https://r.example/1", "title": "uefa.com"}),
                json!({"type": "url_citation", "start_index": 15, "end_index": 29, "url": "https://r.example/1", "title": "uefa.com"}),
                json!({"type": "url_citation", "start_index": 15, "end_index": 29, "url": "https://r.example/2", "title": "bbc.com"}),
                json!({"type": "url_citation", "start_index": 3, "end_index": 4, "url": "https://r.example/2", "title": "bbc.com"})
            ]
        );
        let chars: Vec<char> = text.chars().collect();
        let cited: String = chars[15..29].iter().collect();
        assert_eq!(cited, "Ils ont gagné.");
        // Offsets that do not fit the text: found by the segment's text.
        let shifted = format!("Intro. {text}");
        let found = grounding().annotations(&shifted);
        assert_eq!(found[0]["start_index"], 7);
        assert_eq!(found[1]["start_index"], 22);
    }

    #[test]
    fn the_call_item_tells_what_was_searched() {
        let request = json!({"include": ["web_search_call.action.sources"]});
        assert!(wants_sources(&request) && !wants_sources(&json!({"include": null})));
        let g = grounding();
        assert_eq!(
            finished_call("ws_1", Some(&g), true),
            json!({"id": "ws_1", "type": "web_search_call", "status": "completed",
                   "action": {"type": "search", "query": "euro 2024 winner",
                              "queries": ["euro 2024 winner", "euro 2024 final"],
                              "sources": [{"type": "url", "url": "https://r.example/1"},
                                          {"type": "url", "url": "https://r.example/2"}]}})
        );
        assert_eq!(
            finished_call("ws_1", None, false)["action"],
            json!({"type": "search", "queries": []})
        );
        assert_eq!(started_call("ws_1")["status"], "in_progress");
        assert_eq!(Grounding::of_candidate(&json!({"content": {}})), None);
        let odd = Grounding::of_candidate(&json!({"groundingMetadata": {
            "groundingChunks": "x", "groundingSupports": [null, {"segment": 3}, {"segment": {"endIndex": -1}}]
        }}))
        .unwrap();
        assert!(odd.annotations("text").is_empty());
    }
}
