//! Streaming: Gemini `streamGenerateContent` chunks (each a
//! `GenerateContentResponse`) → OpenAI `chat.completion.chunk` objects.
//!
//! Per choice (one per Gemini candidate index): the first chunk carries
//! `delta.role: "assistant"` (with `content: ""` when there is no text yet),
//! then text deltas; Gemini sends whole function calls, so each becomes one
//! `delta.tool_calls[{index, id, type, function{name, arguments}}]` entry with
//! an index that counts the choice's calls across the stream (with its
//! thought signature as `extra_content.google.thought_signature`); a
//! signature on another part (Gemini 3 streams it last, on an empty text)
//! is the delta's own `extra_content`. A Gemini
//! `finishReason` becomes a separate chunk with an empty delta and the
//! OpenAI finish reason, as OpenAI sends it. [`ChatStreamTranslator::finish`]
//! closes any choice the stream left open (`stop`, or `tool_calls`) and, when
//! usage was requested, sends the `choices: []` usage chunk built from the
//! last `usageMetadata` seen (zeros if Gemini sent none); with usage
//! requested every other chunk carries `usage: null`, as OpenAI does.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::candidate;
use super::usage::openai_usage;

/// Turns a Gemini stream into OpenAI chunks; one per client stream.
pub struct ChatStreamTranslator {
    model: String,
    id: String,
    created: u64,
    include_usage: bool,
    /// Choices seen so far, by index.
    choices: BTreeMap<u64, ChoiceState>,
    /// The last `usageMetadata` seen.
    usage: Option<Value>,
    finished: bool,
}

#[derive(Default)]
struct ChoiceState {
    tool_calls: usize,
    finished: bool,
}

impl ChatStreamTranslator {
    pub fn new(model: &str, id: &str, created: u64, include_usage: bool) -> Self {
        Self {
            model: model.to_owned(),
            id: id.to_owned(),
            created,
            include_usage,
            choices: BTreeMap::new(),
            usage: None,
            finished: false,
        }
    }

    /// Translates one Gemini stream chunk into the chunks to send (possibly
    /// none). Chunks pushed after [`finish`](Self::finish) are ignored.
    pub fn push(&mut self, gemini_chunk: &Value) -> Vec<Value> {
        if self.finished {
            return Vec::new();
        }
        if let Some(metadata) = gemini_chunk.get("usageMetadata").filter(|m| m.is_object()) {
            self.usage = Some(metadata.clone());
        }
        let candidates = gemini_chunk["candidates"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut out = Vec::new();
        if candidates.is_empty() && candidate::prompt_blocked(gemini_chunk) {
            if self.open(0) {
                out.push(self.role_chunk(0));
            }
            self.close(0, "content_filter", &mut out);
            return out;
        }
        for (position, raw) in candidates.iter().enumerate() {
            let index = candidate::index(raw, position);
            if self.choices.get(&index).is_some_and(|c| c.finished) {
                continue;
            }
            let opened = self.open(index);
            let first_call = self.state(index).tool_calls;
            let output = candidate::read(raw, position, &self.id, first_call);
            let mut delta = Map::new();
            if opened {
                delta.insert("role".into(), json!("assistant"));
                delta.insert("content".into(), json!(""));
            }
            if let Some(text) = output.text {
                delta.insert("content".into(), json!(text));
            }
            if let Some(signature) = output.signature {
                delta.insert(
                    "extra_content".into(),
                    json!({"google": {"thought_signature": signature}}),
                );
            }
            if !output.tool_calls.is_empty() {
                self.state(index).tool_calls += output.tool_calls.len();
                let calls = output
                    .tool_calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, mut call)| {
                        call["index"] = json!(first_call + i);
                        call
                    });
                delta.insert("tool_calls".into(), calls.collect());
            }
            if !delta.is_empty() {
                out.push(self.chunk(vec![choice(
                    index,
                    Value::Object(delta),
                    output.logprobs,
                    None,
                )]));
            }
            if let Some(reason) = output.finish_reason {
                let called = self.state(index).tool_calls > 0;
                self.close(index, candidate::finish_reason(&reason, called), &mut out);
            }
        }
        out
    }

    /// Call once the Gemini stream has ended: closes open choices and adds
    /// the usage chunk when requested. Later calls return nothing.
    pub fn finish(&mut self) -> Vec<Value> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        let mut out = Vec::new();
        if self.choices.is_empty() && self.open(0) {
            out.push(self.role_chunk(0));
        }
        let open: Vec<(u64, bool)> = self
            .choices
            .iter()
            .filter(|(_, state)| !state.finished)
            .map(|(index, state)| (*index, state.tool_calls > 0))
            .collect();
        for (index, called) in open {
            self.close(index, candidate::finish_reason("STOP", called), &mut out);
        }
        if self.include_usage {
            let usage = openai_usage(self.usage.as_ref().unwrap_or(&Value::Null));
            let mut chunk = self.chunk(Vec::new());
            chunk["usage"] = usage;
            out.push(chunk);
        }
        out
    }

    fn state(&mut self, index: u64) -> &mut ChoiceState {
        self.choices.entry(index).or_default()
    }

    /// Registers choice `index`; true if it is new, so its first delta must
    /// carry the role.
    fn open(&mut self, index: u64) -> bool {
        if self.choices.contains_key(&index) {
            return false;
        }
        self.choices.insert(index, ChoiceState::default());
        true
    }

    /// The opening chunk of a choice that has nothing else to say.
    fn role_chunk(&self, index: u64) -> Value {
        let delta = json!({"role": "assistant", "content": ""});
        self.chunk(vec![choice(index, delta, Value::Null, None)])
    }

    /// Ends choice `index` with `reason`, unless already ended.
    fn close(&mut self, index: u64, reason: &str, out: &mut Vec<Value>) {
        let state = self.state(index);
        if state.finished {
            return;
        }
        state.finished = true;
        out.push(self.chunk(vec![choice(index, json!({}), Value::Null, Some(reason))]));
    }

    fn chunk(&self, choices: Vec<Value>) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": choices,
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }
}

fn choice(index: u64, delta: Value, logprobs: Value, finish_reason: Option<&str>) -> Value {
    json!({"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason})
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "chatcmpl-s";

    fn translator(include_usage: bool) -> ChatStreamTranslator {
        ChatStreamTranslator::new("my-gemini", ID, 42, include_usage)
    }

    fn text_chunk(text: &str) -> Value {
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]})
    }

    fn chunk(choices: Value) -> Value {
        json!({"id": ID, "object": "chat.completion.chunk", "created": 42, "model": "my-gemini", "system_fingerprint": null, "choices": choices})
    }

    fn with_null_usage(mut chunk: Value) -> Value {
        chunk["usage"] = Value::Null;
        chunk
    }

    #[test]
    fn text_stream_without_usage() {
        let mut t = translator(false);
        let mut out = t.push(&text_chunk("Hel"));
        out.extend(t.push(&text_chunk("lo")));
        out.extend(t.push(&json!({
            "candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
        })));
        out.extend(t.finish());
        assert_eq!(
            out,
            vec![
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"content": "lo"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"content": "!"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
                ),
            ]
        );
        assert!(t.finish().is_empty());
        assert!(t.push(&text_chunk("late")).is_empty());
    }

    #[test]
    fn usage_chunk_comes_last_and_others_carry_null_usage() {
        let mut t = translator(true);
        let mut out = t.push(&json!({
            "candidates": [{"content": {"parts": [{"text": "thinking", "thought": true}]}}],
            "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}
        }));
        out.extend(t.push(&json!({
            "candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "thoughtsTokenCount": 4, "totalTokenCount": 8}
        })));
        out.extend(t.finish());
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({
            "prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4}
        });
        assert_eq!(
            out,
            vec![
                with_null_usage(chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}])
                )),
                with_null_usage(chunk(
                    json!([{"index": 0, "delta": {"content": "Hi"}, "logprobs": null, "finish_reason": null}])
                )),
                with_null_usage(chunk(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
                )),
                usage,
            ]
        );
    }

    #[test]
    fn tool_calls_get_stable_indices_across_the_stream() {
        let mut t = translator(false);
        let call = |name: &str| json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": name, "args": {"x": 1}}}]}}]});
        let first = t.push(&call("a"));
        let second = t.push(&json!({"candidates": [{"content": {"parts": [
            {"functionCall": {"id": "gem-b", "name": "b", "args": {}}, "thoughtSignature": "c2ln"}
        ]}, "finishReason": "STOP"}]}));
        let tool_calls = &first[0]["choices"][0]["delta"]["tool_calls"];
        let id_a = tool_calls[0]["id"].as_str().unwrap().to_owned();
        assert!(id_a.starts_with("call_"));
        assert_eq!(
            first,
            vec![chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": "", "tool_calls": [
                {"id": id_a, "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}, "index": 0}
            ]}, "logprobs": null, "finish_reason": null}])
            )]
        );
        assert_eq!(
            second,
            vec![
                chunk(json!([{"index": 0, "delta": {"tool_calls": [
                    {"id": "gem-b", "type": "function", "function": {"name": "b", "arguments": "{}"},
                     "extra_content": {"google": {"thought_signature": "c2ln"}}, "index": 1}
                ]}, "logprobs": null, "finish_reason": null}])),
                chunk(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "tool_calls"}])
                ),
            ]
        );
        let complete = super::super::gemini_response_to_chat(&call("a"), "my-gemini", ID, 42);
        assert_eq!(
            complete["choices"][0]["message"]["tool_calls"][0]["id"],
            json!(id_a),
            "stream and complete ids agree"
        );
    }

    #[test]
    fn a_trailing_text_signature_is_a_delta_of_its_own() {
        let mut t = translator(false);
        let mut out = t.push(&text_chunk("Hi"));
        out.extend(t.push(&json!({"candidates": [{"content": {"parts": [{"text": "", "thoughtSignature": "c2ln"}]}, "finishReason": "STOP"}]})));
        assert_eq!(
            out,
            vec![
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"extra_content": {"google": {"thought_signature": "c2ln"}}}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
                ),
            ]
        );
    }

    #[test]
    fn several_candidates_are_separate_choices() {
        let mut t = translator(false);
        let out = t.push(&json!({"candidates": [
            {"content": {"parts": [{"text": "a"}]}, "index": 0},
            {"content": {"parts": [{"text": "b"}]}, "index": 1, "finishReason": "MAX_TOKENS"}
        ]}));
        assert_eq!(
            out,
            vec![
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": "a"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 1, "delta": {"role": "assistant", "content": "b"}, "logprobs": null, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 1, "delta": {}, "logprobs": null, "finish_reason": "length"}])
                ),
            ]
        );
        assert!(
            t.push(
                &json!({"candidates": [{"content": {"parts": [{"text": "late"}]}, "index": 1}]})
            )
            .is_empty()
        );
        assert_eq!(
            t.finish(),
            vec![chunk(
                json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}])
            )]
        );
    }

    #[test]
    fn blocked_prompt_in_stream() {
        let mut t = translator(true);
        let out = t.push(&json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}));
        assert_eq!(
            out,
            vec![
                with_null_usage(chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}])
                )),
                with_null_usage(chunk(
                    json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "content_filter"}])
                )),
            ]
        );
        let end = t.finish();
        assert_eq!(end.len(), 1);
        assert_eq!(end[0]["choices"], json!([]));
        assert_eq!(end[0]["usage"]["prompt_tokens"], json!(9));
    }

    #[test]
    fn empty_stream_still_yields_a_choice_and_usage() {
        let mut t = translator(true);
        assert!(t.push(&json!({})).is_empty());
        let out = t.finish();
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": ""})
        );
        assert_eq!(out[1]["choices"][0]["finish_reason"], json!("stop"));
        assert_eq!(out[2]["usage"]["total_tokens"], json!(0));
    }

    #[test]
    fn logprobs_ride_on_content_chunks() {
        let mut t = translator(false);
        let out = t.push(&json!({"candidates": [{
            "content": {"parts": [{"text": "Hi"}]},
            "logprobsResult": {"chosenCandidates": [{"token": "Hi", "logProbability": -1.0}]}
        }]}));
        assert_eq!(
            out[0]["choices"][0]["logprobs"],
            json!({"content": [{"token": "Hi", "logprob": -1.0, "bytes": [72, 105], "top_logprobs": []}], "refusal": null})
        );
    }

    #[test]
    fn odd_chunks_do_not_panic() {
        let mut t = translator(true);
        for odd in [
            json!(null),
            json!([]),
            json!("x"),
            json!({"candidates": 3}),
            json!({"candidates": [null, {"index": "x"}]}),
            json!({"usageMetadata": "x"}),
        ] {
            for chunk in t.push(&odd) {
                assert_eq!(chunk["object"], json!("chat.completion.chunk"));
            }
        }
        let end = t.finish();
        assert_eq!(end.last().unwrap()["choices"], json!([]));
    }
}
