//! One answered response: the `response` object as the SDK's `Response`
//! reads it (the request's settings echoed with OpenAI's defaults, one
//! output item, usage) and its server-sent events, in OpenAI's order:
//!
//! `response.created`, `response.in_progress`; after a web search (see
//! [`super::search`]) its item's `response.output_item.added`,
//! `response.web_search_call.in_progress`, `.searching`, `.completed` and
//! `response.output_item.done`; then the answer's
//! `response.output_item.added`, for a message `response.content_part.added`,
//! the `response.output_text.delta`s, one
//! `response.output_text.annotation.added` per citation,
//! `response.output_text.done`, `response.content_part.done`; for a call the
//! `response.function_call_arguments.delta`s and `.done`; then
//! `response.output_item.done` and `response.completed` (or
//! `response.incomplete` when the output limit cut the text). Every event
//! has its `type` and a rising `sequence_number`; deltas carry an
//! `obfuscation` padding unless `stream_options.include_obfuscation` is
//! false.
//!
//! The events are grouped into delivery chunks, one per delta: the first
//! chunk opens with the events before the first delta, the last closes with
//! those after the last, so the latency profile paces the answer as it
//! paces a chat stream of as many pieces.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rand::Rng;
use serde_json::{Value, json};

use super::items::hex_id;
use super::search::WebSearch;
use crate::openai::catalog::{Kind, OpenAiModel};
use crate::openai::request::list;
use crate::prng::{Digest, alphanumeric};
use crate::reply::{Answer, Finish};
use crate::textgen::{self, split_even};

/// An answer and everything its response object says.
#[derive(Debug)]
pub struct Reply<'a> {
    body: &'a Value,
    model: &'static OpenAiModel,
    id: String,
    created_at: u64,
    answer: Answer,
    item_id: String,
    call_id: String,
    input_tokens: u64,
    cached_tokens: u64,
    /// The web search run before the answer, if any.
    search: Option<WebSearch>,
    /// Decides the stream's pieces and padding.
    digest: Digest,
}

/// Input tokens of a response, and how many of them the cache served.
#[derive(Debug, Clone, Copy)]
pub struct Input {
    pub tokens: u64,
    pub cached: u64,
}

fn event(kind: &str, fields: Value) -> Value {
    let mut e = json!({ "type": kind, "sequence_number": 0 });
    if let (Some(e), Value::Object(fields)) = (e.as_object_mut(), fields) {
        e.extend(fields);
    }
    e
}

impl<'a> Reply<'a> {
    /// `ids` draws the response's ids (unique to the request), `digest`
    /// (the conversation's) how the answer is streamed.
    pub fn new(
        body: &'a Value,
        model: &'static OpenAiModel,
        (answer, search): (Answer, Option<WebSearch>),
        ids: Digest,
        digest: Digest,
        input: Input,
    ) -> Self {
        let item_prefix = match answer {
            Answer::Text { .. } => "msg_",
            Answer::Call { .. } => "fc_",
        };
        Self {
            body,
            model,
            id: hex_id("resp_", ids.part("response")),
            created_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            item_id: hex_id(item_prefix, ids.part("output")),
            call_id: format!("call_{}", alphanumeric(ids.part("call"), 24)),
            answer,
            input_tokens: input.tokens,
            cached_tokens: input.cached,
            search,
            digest,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A request setting, or OpenAI's default for it.
    fn setting(&self, key: &str, default: Value) -> Value {
        self.body
            .get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    }

    fn reasoning(&self) -> Value {
        if !matches!(self.model.kind, Kind::Chat { reasoning: true }) {
            return json!({ "effort": null, "summary": null });
        }
        let asked = &self.body["reasoning"];
        let summary = match &asked["summary"] {
            Value::Null => &asked["generate_summary"],
            given => given,
        };
        json!({
            "effort": asked["effort"].as_str().unwrap_or("medium"),
            "summary": summary,
        })
    }

    fn service_tier(&self) -> &'static str {
        match self.body["service_tier"].as_str() {
            Some("priority" | "fast") => "priority",
            Some("flex") => "flex",
            Some("scale") => "scale",
            Some("ultrafast") => "ultrafast",
            _ => "default",
        }
    }

    fn text_config(&self) -> Value {
        let format = &self.body["text"]["format"];
        let format = match format["type"].as_str() {
            Some("json_schema") => json!({
                "type": "json_schema",
                "description": format.get("description").cloned().unwrap_or(Value::Null),
                "name": format["name"],
                "schema": format["schema"],
                "strict": format.get("strict").cloned().unwrap_or(Value::Null),
            }),
            Some(kind) => json!({ "type": kind }),
            None => json!({ "type": "text" }),
        };
        let verbosity = self.body["text"]["verbosity"].as_str().unwrap_or("medium");
        json!({ "format": format, "verbosity": verbosity })
    }

    /// The tools as OpenAI echoes them: function tools with every member
    /// (strict by default), built-in tools as sent.
    fn tools(&self) -> Value {
        list(&self.body["tools"])
            .iter()
            .map(|t| {
                if t["type"] != "function" {
                    return t.clone();
                }
                let or_null = |key: &str| t.get(key).cloned().unwrap_or(Value::Null);
                json!({
                    "type": "function",
                    "name": t["name"],
                    "description": or_null("description"),
                    "parameters": or_null("parameters"),
                    "strict": t["strict"].as_bool().unwrap_or(true),
                })
            })
            .collect()
    }

    /// The response object with `status`, no output and no usage yet.
    fn base(&self, status: &str) -> Value {
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": self.setting("background", json!(false)),
            "completed_at": null,
            "error": null,
            "incomplete_details": null,
            "instructions": self.setting("instructions", Value::Null),
            "max_output_tokens": self.setting("max_output_tokens", Value::Null),
            "max_tool_calls": self.setting("max_tool_calls", Value::Null),
            "model": self.model.answered_name(),
            "output": [],
            "parallel_tool_calls": self.setting("parallel_tool_calls", json!(true)),
            "previous_response_id": self.setting("previous_response_id", Value::Null),
            "prompt_cache_key": self.setting("prompt_cache_key", Value::Null),
            "prompt_cache_retention": self.setting("prompt_cache_retention", Value::Null),
            "reasoning": self.reasoning(),
            "safety_identifier": self.setting("safety_identifier", Value::Null),
            "service_tier": self.service_tier(),
            "store": self.setting("store", json!(true)),
            "temperature": self.setting("temperature", json!(1.0)),
            "text": self.text_config(),
            "tool_choice": self.setting("tool_choice", json!("auto")),
            "tools": self.tools(),
            "top_logprobs": self.setting("top_logprobs", json!(0)),
            "top_p": self.setting("top_p", json!(1.0)),
            "truncation": self.setting("truncation", json!("disabled")),
            "usage": null,
            "user": self.setting("user", Value::Null),
            "metadata": self.setting("metadata", json!({})),
        })
    }

    fn cut(&self) -> bool {
        matches!(
            self.answer,
            Answer::Text {
                finish: Finish::Length,
                ..
            }
        )
    }

    /// The answer's text, or the call's arguments.
    fn content(&self) -> String {
        match &self.answer {
            Answer::Text { text, .. } => text.clone(),
            Answer::Call { args, .. } => args.to_string(),
        }
    }

    fn output_text(text: &str, annotations: &[Value]) -> Value {
        json!({ "type": "output_text", "annotations": annotations, "logprobs": [], "text": text })
    }

    /// The citations of the answer's text.
    fn annotations(&self) -> &[Value] {
        self.search.as_ref().map_or(&[], WebSearch::annotations)
    }

    /// The answer item's place in `output`: after the web search, if any.
    fn index(&self) -> usize {
        usize::from(self.search.is_some())
    }

    /// The answer item, finished (`started`: as `output_item.added` shows it).
    fn item(&self, started: bool) -> Value {
        let status = match (started, self.cut()) {
            (true, _) => "in_progress",
            (false, true) => "incomplete",
            (false, false) => "completed",
        };
        match &self.answer {
            Answer::Text { text, .. } => {
                let content = if started {
                    json!([])
                } else {
                    json!([Self::output_text(text, self.annotations())])
                };
                json!({ "id": self.item_id, "type": "message", "status": status, "role": "assistant", "content": content })
            }
            Answer::Call { name, args } => json!({
                "id": self.item_id,
                "type": "function_call",
                "status": status,
                "arguments": if started { String::new() } else { args.to_string() },
                "call_id": self.call_id,
                "name": name,
            }),
        }
    }

    /// The finished output items (the web search, then the answer), as the
    /// conversation keeps them.
    pub fn output(&self) -> Vec<Value> {
        let mut items: Vec<Value> = self.search.iter().map(|s| s.item(false)).collect();
        items.push(self.item(false));
        items
    }

    fn usage(&self) -> Value {
        let output = self.answer.tokens();
        json!({
            "input_tokens": self.input_tokens,
            "input_tokens_details": { "cached_tokens": self.cached_tokens, "cache_write_tokens": 0 },
            "output_tokens": output,
            "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": self.input_tokens + output,
        })
    }

    /// The finished response: `completed`, or `incomplete` for
    /// `max_output_tokens` when the limit cut the text.
    pub fn finished(&self) -> Value {
        let mut response = self.base(if self.cut() {
            "incomplete"
        } else {
            "completed"
        });
        if self.cut() {
            response["incomplete_details"] = json!({ "reason": "max_output_tokens" });
        } else {
            response["completed_at"] = json!(self.created_at);
        }
        response["output"] = json!(self.output());
        response["usage"] = self.usage();
        response
    }

    /// The pieces the text or the arguments are streamed in.
    pub fn pieces(&self) -> Vec<String> {
        let mut rng = self.digest.part("response-chunks").rng();
        let content = self.content();
        match self.answer {
            Answer::Text { .. } => textgen::chunks(&content, &mut rng),
            Answer::Call { .. } => {
                let n = rng.random_range(3..=8);
                split_even(&content, n)
            }
        }
    }

    fn delta(&self, k: usize, piece: &str) -> Value {
        let mut fields = json!({ "item_id": self.item_id, "output_index": self.index() });
        if matches!(self.answer, Answer::Text { .. }) {
            fields["content_index"] = json!(0);
        }
        fields["delta"] = json!(piece);
        let kind = match self.answer {
            Answer::Text { .. } => {
                fields["logprobs"] = json!([]);
                "response.output_text.delta"
            }
            Answer::Call { .. } => "response.function_call_arguments.delta",
        };
        if self.body["stream_options"]["include_obfuscation"] != json!(false) {
            let pad = 16 - piece.chars().count() % 16;
            fields["obfuscation"] = json!(alphanumeric(
                self.digest.part("obfuscation").number(k as u64),
                pad
            ));
        }
        event(kind, fields)
    }

    /// The stream's events, grouped into delivery chunks (one per delta),
    /// numbered in order.
    pub fn events(&self) -> Vec<Vec<Value>> {
        let started = self.base("in_progress");
        let mut opening = vec![
            event("response.created", json!({ "response": started })),
            event("response.in_progress", json!({ "response": started })),
        ];
        if let Some(search) = &self.search {
            opening.extend(search_events(search));
        }
        let index = self.index();
        opening.push(event(
            "response.output_item.added",
            json!({ "output_index": index, "item": self.item(true) }),
        ));
        let in_part = json!({ "item_id": self.item_id, "output_index": index, "content_index": 0 });
        let with = |mut base: Value, key: &str, value: Value| {
            base[key] = value;
            base
        };
        let content = self.content();
        let mut closing = match self.answer {
            Answer::Text { .. } => {
                opening.push(event(
                    "response.content_part.added",
                    with(in_part.clone(), "part", Self::output_text("", &[])),
                ));
                let mut closing: Vec<Value> = self
                    .annotations()
                    .iter()
                    .enumerate()
                    .map(|(k, a)| {
                        let added = with(in_part.clone(), "annotation_index", json!(k));
                        event(
                            "response.output_text.annotation.added",
                            with(added, "annotation", a.clone()),
                        )
                    })
                    .collect();
                closing.extend([
                    event(
                        "response.output_text.done",
                        with(
                            with(in_part.clone(), "text", json!(content)),
                            "logprobs",
                            json!([]),
                        ),
                    ),
                    event(
                        "response.content_part.done",
                        with(
                            in_part,
                            "part",
                            Self::output_text(&content, self.annotations()),
                        ),
                    ),
                ]);
                closing
            }
            Answer::Call { .. } => vec![event(
                "response.function_call_arguments.done",
                json!({ "item_id": self.item_id, "output_index": index, "arguments": content }),
            )],
        };
        closing.push(event(
            "response.output_item.done",
            json!({ "output_index": index, "item": self.item(false) }),
        ));
        let last = if self.cut() {
            "response.incomplete"
        } else {
            "response.completed"
        };
        closing.push(event(last, json!({ "response": self.finished() })));

        let mut groups: Vec<Vec<Value>> = self
            .pieces()
            .iter()
            .enumerate()
            .map(|(k, piece)| vec![self.delta(k, piece)])
            .collect();
        if groups.is_empty() {
            groups.push(Vec::new());
        }
        groups[0].splice(0..0, opening);
        if let Some(tail) = groups.last_mut() {
            tail.extend(closing);
        }
        for (number, e) in groups.iter_mut().flatten().enumerate() {
            e["sequence_number"] = json!(number);
        }
        groups
    }
}

/// A web search's events, from its item's `output_item.added` to its
/// `output_item.done`, at output index 0.
fn search_events(search: &WebSearch) -> Vec<Value> {
    let at = json!({ "output_index": 0, "item_id": search.id() });
    let mut events = vec![event(
        "response.output_item.added",
        json!({ "output_index": 0, "item": search.item(true) }),
    )];
    for kind in ["in_progress", "searching", "completed"] {
        events.push(event(
            &format!("response.web_search_call.{kind}"),
            at.clone(),
        ));
    }
    events.push(event(
        "response.output_item.done",
        json!({ "output_index": 0, "item": search.item(false) }),
    ));
    events
}

/// A group of events as server-sent events: `event: TYPE` and `data: JSON`.
pub fn sse(events: &[Value]) -> Bytes {
    let mut out = String::new();
    for e in events {
        let kind = e["type"].as_str().unwrap_or("");
        out.push_str(&format!("event: {kind}\ndata: {e}\n\n"));
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;

    fn reply(body: &Value, answer: Answer) -> Reply<'_> {
        Reply::new(
            body,
            catalog::find("gpt-4o").unwrap(),
            (answer, None),
            Digest::new(1),
            Digest::new(2),
            Input {
                tokens: 10,
                cached: 0,
            },
        )
    }

    #[test]
    fn a_message_and_its_events() {
        let body = json!({"model": "gpt-4o", "input": "hi", "metadata": {"a": "b"}});
        let r = reply(
            &body,
            Answer::Text {
                text: "one two three four five six".into(),
                finish: Finish::Stop,
            },
        );
        let whole = r.finished();
        assert!(whole["id"].as_str().unwrap().starts_with("resp_"));
        assert_eq!(whole["status"], "completed");
        assert_eq!(whole["model"], "gpt-4o-2024-08-06");
        assert_eq!(whole["metadata"], json!({"a": "b"}));
        assert_eq!(whole["store"], true);
        assert_eq!(whole["text"]["format"], json!({"type": "text"}));
        assert_eq!(whole["usage"]["total_tokens"], 10 + 7);
        let item = &whole["output"][0];
        assert!(item["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(item["content"][0]["text"], "one two three four five six");
        let groups = r.events();
        assert_eq!(groups.len(), r.pieces().len());
        let all: Vec<&Value> = groups.iter().flatten().collect();
        let kinds: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            &kinds[..5],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta"
            ]
        );
        assert_eq!(
            &kinds[kinds.len() - 4..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, e)| e["sequence_number"] == i)
        );
        let text: String = all
            .iter()
            .filter_map(|e| e.get("delta").and_then(Value::as_str))
            .collect();
        assert_eq!(text, "one two three four five six");
        assert_eq!(all.last().unwrap()["response"], whole);
        assert!(all[4]["obfuscation"].is_string());
        assert!(
            String::from_utf8(sse(&groups[0]).to_vec())
                .unwrap()
                .starts_with("event: response.created\ndata: {\"type\":\"response.created\"")
        );
    }

    #[test]
    fn a_searched_answer_opens_with_its_search_and_cites_it() {
        let body = json!({"model": "gpt-4o", "tools": [{"type": "web_search"}],
                          "stream_options": {"include_obfuscation": false}});
        let answered = super::super::search::run(
            &body,
            Answer::Text {
                text: "Spain won. They beat England.".into(),
                finish: Finish::Stop,
            },
            crate::reply::Format::Text,
            "Who won the Euro 2024?",
            0,
            Digest::new(1),
        );
        let r = Reply::new(
            &body,
            catalog::find("gpt-4o").unwrap(),
            answered,
            Digest::new(1),
            Digest::new(2),
            Input {
                tokens: 10,
                cached: 0,
            },
        );
        let whole = r.finished();
        let output = whole["output"].as_array().unwrap();
        assert_eq!(output.len(), 2);
        assert_eq!(output[0]["type"], "web_search_call");
        assert_eq!(output[0]["action"]["query"], "who won the euro 2024");
        let annotations = output[1]["content"][0]["annotations"].as_array().unwrap();
        assert_eq!(annotations.len(), 2);
        let all = r.events().concat();
        let kinds: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            &kinds[..8],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.web_search_call.in_progress",
                "response.web_search_call.searching",
                "response.web_search_call.completed",
                "response.output_item.done",
                "response.output_item.added"
            ]
        );
        assert_eq!(all[7]["output_index"], 1);
        let added: Vec<&Value> = all
            .iter()
            .filter(|e| e["type"] == "response.output_text.annotation.added")
            .collect();
        assert_eq!(added.len(), 2);
        assert_eq!(added[1]["annotation_index"], 1);
        assert_eq!(&added[0]["annotation"], &annotations[0]);
        let done = all
            .iter()
            .position(|e| e["type"] == "response.output_text.done")
            .unwrap();
        let last_delta = all
            .iter()
            .rposition(|e| e["type"] == "response.output_text.delta")
            .unwrap();
        assert!(all.iter().enumerate().all(|(k, e)| e["type"]
            != "response.output_text.annotation.added"
            || (last_delta < k && k < done)));
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, e)| e["sequence_number"] == i)
        );
        assert_eq!(all.last().unwrap()["response"], whole);
    }

    #[test]
    fn cut_text_is_incomplete_and_calls_stream_arguments() {
        let body = json!({"model": "gpt-4o", "stream_options": {"include_obfuscation": false}});
        let r = reply(
            &body,
            Answer::Text {
                text: "cut".into(),
                finish: Finish::Length,
            },
        );
        let whole = r.finished();
        assert_eq!(whole["status"], "incomplete");
        assert_eq!(whole["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(whole["output"][0]["status"], "incomplete");
        let last = r.events().concat().pop().unwrap();
        assert_eq!(last["type"], "response.incomplete");

        let r = reply(
            &body,
            Answer::Call {
                name: "get_weather".into(),
                args: json!({"city": "Paris"}),
            },
        );
        let item = r.output().remove(0);
        assert_eq!(item["type"], "function_call");
        assert!(item["id"].as_str().unwrap().starts_with("fc_"));
        assert!(item["call_id"].as_str().unwrap().starts_with("call_"));
        let all = r.events().concat();
        let args: String = all
            .iter()
            .filter(|e| e["type"] == "response.function_call_arguments.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert_eq!(args, "{\"city\":\"Paris\"}");
        assert!(all.iter().all(|e| e.get("obfuscation").is_none()));
        assert_eq!(all[2]["item"]["arguments"], "");
        assert_eq!(all.last().unwrap()["type"], "response.completed");
    }
}
