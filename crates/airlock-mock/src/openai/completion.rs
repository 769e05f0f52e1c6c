//! The `chat.completion` object and the `chat.completion.chunk` stream of
//! a chat request's answers.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde_json::{Value, json};

use super::catalog::OpenAiModel;
use super::request::{ask, legacy_functions, prompt_tokens};
use crate::prng::{Digest, alphanumeric};
use crate::reply::{self, Answer, Finish};
use crate::textgen::{self, split_even};
use crate::tokens::Tally;

/// A finished chat completion, ready to be rendered whole or as chunks.
#[derive(Debug)]
pub struct Completion {
    pub id: String,
    pub created: u64,
    pub model: &'static str,
    pub fingerprint: String,
    pub choices: Vec<Answer>,
    /// Tool names whose calls carry free text (custom tools).
    pub freeform: Vec<String>,
    pub legacy: bool,
    /// Prompt tokens by modality.
    pub prompt: Tally,
    /// The part of the prompt read from the prompt cache.
    pub cached_tokens: u64,
    /// `top_logprobs` when `logprobs` was requested.
    pub logprobs: Option<u64>,
    pub call_ids: Vec<String>,
    pub digest: Digest,
}

impl Completion {
    pub fn new(body: &Value, model: &'static OpenAiModel, seed: u64, serial: u64) -> Self {
        let ask = ask(body, model, seed);
        let n = body["n"].as_u64().unwrap_or(1).max(1);
        let choices: Vec<Answer> = (0..n).map(|i| reply::answer(&ask, i)).collect();
        let ids = Digest::new(seed).part("ids").number(serial);
        Self {
            id: format!("chatcmpl-{}", alphanumeric(ids.part("chatcmpl"), 29)),
            created: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            model: model.answered_name(),
            fingerprint: format!(
                "fp_{:010x}",
                Digest::new(0).part(model.id).value() & 0xff_ffff_ffff
            ),
            call_ids: (0..n)
                .map(|i| format!("call_{}", alphanumeric(ids.part("call").number(i), 24)))
                .collect(),
            freeform: ask
                .tools
                .iter()
                .filter(|t| t.freeform)
                .map(|t| t.name.to_owned())
                .collect(),
            legacy: legacy_functions(body),
            prompt: prompt_tokens(body),
            cached_tokens: 0,
            logprobs: (body["logprobs"] == json!(true))
                .then(|| body["top_logprobs"].as_u64().unwrap_or(0)),
            choices,
            digest: ask.digest,
        }
    }

    fn usage(&self) -> Value {
        let completion: u64 = self.choices.iter().map(Answer::tokens).sum();
        let prompt = self.prompt.total();
        json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {
                "cached_tokens": self.cached_tokens,
                "audio_tokens": self.prompt.audio
            },
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0
            }
        })
    }

    fn finish_reason(&self, answer: &Answer) -> &'static str {
        match answer {
            Answer::Text {
                finish: Finish::Stop,
                ..
            } => "stop",
            Answer::Text {
                finish: Finish::Length,
                ..
            } => "length",
            Answer::Call { .. } if self.legacy => "function_call",
            Answer::Call { .. } => "tool_calls",
        }
    }

    fn arguments(args: &Value) -> String {
        match args {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The `tool_calls` entry (or legacy `function_call`) of a call, with the
    /// arguments given.
    fn call_entry(
        &self,
        index: usize,
        name: &str,
        arguments: &str,
        with_id: bool,
    ) -> (&'static str, Value) {
        if self.legacy {
            return (
                "function_call",
                json!({ "name": name, "arguments": arguments }),
            );
        }
        let mut entry = if self.freeform.iter().any(|f| f == name) {
            json!({ "type": "custom", "custom": { "name": name, "input": arguments } })
        } else {
            json!({ "type": "function", "function": { "name": name, "arguments": arguments } })
        };
        if with_id {
            entry["id"] = json!(self.call_ids[index]);
        }
        ("tool_calls", entry)
    }

    fn token_logprobs(&self, text: &str, choice: usize, offset: usize) -> Value {
        let Some(top) = self.logprobs else {
            return Value::Null;
        };
        let words: Vec<&str> = text.split_inclusive(' ').collect();
        let content: Vec<Value> = words
            .iter()
            .enumerate()
            .map(|(k, token)| {
                let mut rng = self.digest.number(choice as u64).part("logprobs").number((offset + k) as u64).rng();
                let logprob = -rng.random_range(0.0..0.5f64);
                let alternatives: Vec<Value> = (0..top)
                    .map(|a| {
                        let (t, lp) = if a == 0 {
                            ((*token).to_owned(), logprob)
                        } else {
                            (textgen::phrase(&mut rng, 1), logprob - 1.0 - a as f64)
                        };
                        json!({ "token": t, "logprob": lp, "bytes": t.as_bytes() })
                    })
                    .collect();
                json!({ "token": token, "logprob": logprob, "bytes": token.as_bytes(), "top_logprobs": alternatives })
            })
            .collect();
        json!({ "content": content, "refusal": null })
    }

    /// The non-streaming `chat.completion`.
    pub fn whole(&self) -> Value {
        let choices: Vec<Value> = self
            .choices
            .iter()
            .enumerate()
            .map(|(i, answer)| {
                let mut message = json!({ "role": "assistant", "content": null, "refusal": null, "annotations": [] });
                let mut logprobs = Value::Null;
                match answer {
                    Answer::Text { text, .. } => {
                        message["content"] = json!(text);
                        logprobs = self.token_logprobs(text, i, 0);
                    }
                    Answer::Call { name, args } => {
                        let (key, entry) = self.call_entry(i, name, &Self::arguments(args), true);
                        message[key] = if self.legacy { entry } else { json!([entry]) };
                    }
                }
                json!({ "index": i, "message": message, "logprobs": logprobs, "finish_reason": self.finish_reason(answer) })
            })
            .collect();
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(),
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
        })
    }

    fn chunk(&self, choices: Value, include_usage: bool) -> Value {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
            "choices": choices,
        });
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    }

    fn delta(
        &self,
        index: usize,
        delta: Value,
        logprobs: Value,
        finish: Option<&str>,
        include_usage: bool,
    ) -> Value {
        self.chunk(
            json!([{ "index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish }]),
            include_usage,
        )
    }

    /// The `chat.completion.chunk` objects of the stream, in order.
    pub fn chunks(&self, include_usage: bool) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, answer) in self.choices.iter().enumerate() {
            let mut rng = self.digest.number(i as u64).part("chunks").rng();
            match answer {
                Answer::Text { text, .. } => {
                    out.push(self.delta(
                        i,
                        json!({ "role": "assistant", "content": "", "refusal": null }),
                        Value::Null,
                        None,
                        include_usage,
                    ));
                    let mut offset = 0;
                    for piece in textgen::chunks(text, &mut rng) {
                        let lp = self.token_logprobs(&piece, i, offset);
                        offset += piece.split_inclusive(' ').count();
                        out.push(self.delta(
                            i,
                            json!({ "content": piece }),
                            lp,
                            None,
                            include_usage,
                        ));
                    }
                }
                Answer::Call { name, args } => {
                    let (key, entry) = self.call_entry(i, name, "", true);
                    let opening = if self.legacy {
                        entry
                    } else {
                        json!([merge_index(entry)])
                    };
                    out.push(self.delta(
                        i,
                        json!({ "role": "assistant", "content": null, key: opening, "refusal": null }),
                        Value::Null,
                        None,
                        include_usage,
                    ));
                    let arguments = Self::arguments(args);
                    for piece in split_even(&arguments, rng.random_range(3..=8)) {
                        let (_, mut entry) = self.call_entry(i, name, &piece, false);
                        strip_name(&mut entry);
                        let delta = if self.legacy {
                            entry
                        } else {
                            json!([merge_index(entry)])
                        };
                        out.push(self.delta(
                            i,
                            json!({ key: delta }),
                            Value::Null,
                            None,
                            include_usage,
                        ));
                    }
                }
            }
            out.push(self.delta(
                i,
                json!({}),
                Value::Null,
                Some(self.finish_reason(answer)),
                include_usage,
            ));
        }
        if include_usage {
            let mut last = self.chunk(json!([]), false);
            last["usage"] = self.usage();
            out.push(last);
        }
        out
    }
}

/// A streamed tool-call entry starts with its index.
fn merge_index(entry: Value) -> Value {
    let mut out = json!({ "index": 0 });
    if let (Some(o), Value::Object(e)) = (out.as_object_mut(), entry) {
        o.extend(e);
    }
    if out.get("id").is_none() {
        out.as_object_mut().map(|o| o.remove("type"));
    }
    out
}

/// Argument deltas carry neither the name nor the type.
fn strip_name(entry: &mut Value) {
    for key in ["function", "custom"] {
        if let Some(inner) = entry.get_mut(key).and_then(Value::as_object_mut) {
            inner.remove("name");
        }
    }
    if let Some(o) = entry.as_object_mut() {
        o.remove("name");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;

    fn body(extra: Value) -> Value {
        let mut b =
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello json"}]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    }

    fn gpt4o() -> &'static OpenAiModel {
        catalog::find("gpt-4o").unwrap()
    }
    #[test]
    fn stream_matches_whole() {
        let b = body(json!({"n": 2, "logprobs": true, "top_logprobs": 2}));
        let c = Completion::new(&b, gpt4o(), 0, 1);
        let whole = c.whole();
        assert_eq!(whole["model"], "gpt-4o-2024-08-06");
        assert!(whole["id"].as_str().unwrap().starts_with("chatcmpl-"));
        let chunks = c.chunks(true);
        for i in 0..2 {
            let text: String = chunks
                .iter()
                .filter(|ch| ch["choices"][0]["index"] == i)
                .filter_map(|ch| ch["choices"][0]["delta"]["content"].as_str())
                .collect();
            assert_eq!(text, whole["choices"][i]["message"]["content"]);
        }
        let last = chunks.last().unwrap();
        assert_eq!(last["choices"], json!([]));
        assert_eq!(last["usage"], whole["usage"]);
        assert!(
            chunks[..chunks.len() - 1]
                .iter()
                .all(|ch| ch["usage"].is_null())
        );
        assert_eq!(
            whole["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn tool_calls_whole_and_streamed() {
        let b = body(json!({
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
            "tool_choice": "required"
        }));
        let c = Completion::new(&b, gpt4o(), 0, 1);
        let whole = c.whole();
        assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
        let call = &whole["choices"][0]["message"]["tool_calls"][0];
        assert!(call["id"].as_str().unwrap().starts_with("call_"));
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(args["city"].is_string());
        let chunks = c.chunks(false);
        let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(first["index"], 0);
        assert_eq!(first["id"], call["id"]);
        assert_eq!(first["function"]["name"], "get_weather");
        let streamed: String = chunks
            .iter()
            .filter_map(|ch| {
                ch["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(streamed, call["function"]["arguments"].as_str().unwrap());
        assert!(
            chunks[1]["choices"][0]["delta"]["tool_calls"][0]
                .get("id")
                .is_none()
        );
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }

    #[test]
    fn legacy_functions_answer_in_kind() {
        let b = body(json!({"functions": [{"name": "f"}], "function_call": {"name": "f"}}));
        let c = Completion::new(&b, gpt4o(), 0, 1);
        let whole = c.whole();
        assert_eq!(whole["choices"][0]["finish_reason"], "function_call");
        assert_eq!(whole["choices"][0]["message"]["function_call"]["name"], "f");
    }
}
