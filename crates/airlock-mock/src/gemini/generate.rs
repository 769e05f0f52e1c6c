//! `GenerateContentResponse` bodies, whole or as stream chunks, and the two
//! stream framings Google uses.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Value, json};

use super::request::PromptTokens;
use crate::prng::Digest;
use crate::reply::{Answer, Finish};
use crate::textgen;

/// One generation: the answers of every candidate and what they cost.
#[derive(Debug)]
pub struct Generation {
    pub model: &'static str,
    pub response_id: String,
    pub prompt: PromptTokens,
    pub candidates: Vec<Answer>,
    /// Decides the stream chunking.
    pub digest: Digest,
}

/// A Google-style response id (22 URL-safe characters).
pub fn response_id(seed: u64, serial: u64) -> String {
    let bytes = Digest::new(seed)
        .part("response-id")
        .number(serial)
        .value()
        .to_le_bytes();
    let more = Digest::new(serial)
        .part("response-id")
        .value()
        .to_le_bytes();
    URL_SAFE_NO_PAD.encode([bytes, more].concat())[..22].to_owned()
}

fn finish_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::Text {
            finish: Finish::Length,
            ..
        } => "MAX_TOKENS",
        _ => "STOP",
    }
}

fn parts(answer: &Answer, text: Option<&str>) -> Value {
    match answer {
        Answer::Text { text: full, .. } => json!([{ "text": text.unwrap_or(full) }]),
        Answer::Call { name, args } => json!([{ "functionCall": { "name": name, "args": args } }]),
    }
}

fn candidate(answer: &Answer, index: usize, text: Option<&str>, last: bool) -> Value {
    let mut c = json!({ "content": { "parts": parts(answer, text), "role": "model" } });
    if last {
        c["finishReason"] = json!(finish_reason(answer));
    }
    c["index"] = json!(index);
    c
}

impl Generation {
    fn output_tokens(&self) -> u64 {
        self.candidates.iter().map(Answer::tokens).sum()
    }

    fn usage(&self, complete: bool) -> Value {
        let prompt = self.prompt.total();
        let mut u = json!({ "promptTokenCount": prompt });
        let out = if complete { self.output_tokens() } else { 0 };
        if out > 0 {
            u["candidatesTokenCount"] = json!(out);
        }
        u["totalTokenCount"] = json!(prompt + out);
        u["promptTokensDetails"] = self.prompt.details();
        u
    }

    fn response(&self, candidates: Vec<Value>, complete: bool) -> Value {
        json!({
            "candidates": candidates,
            "usageMetadata": self.usage(complete),
            "modelVersion": self.model,
            "responseId": self.response_id,
        })
    }

    /// The non-streaming response.
    pub fn whole(&self) -> Value {
        let candidates = self
            .candidates
            .iter()
            .enumerate()
            .map(|(i, a)| candidate(a, i, None, true))
            .collect();
        self.response(candidates, true)
    }

    /// The stream: each candidate's text in 3 to 8 pieces (a call in one),
    /// the last piece of a candidate carrying its finish reason and the last
    /// chunk of all the complete usage.
    pub fn chunks(&self) -> Vec<Value> {
        let mut pieces: Vec<(usize, Option<String>, bool)> = Vec::new();
        for (i, answer) in self.candidates.iter().enumerate() {
            match answer {
                Answer::Text { text, .. } => {
                    let split = textgen::chunks(
                        text,
                        &mut self.digest.number(i as u64).part("chunks").rng(),
                    );
                    let n = split.len();
                    pieces.extend(
                        split
                            .into_iter()
                            .enumerate()
                            .map(|(k, p)| (i, Some(p), k + 1 == n)),
                    );
                }
                Answer::Call { .. } => pieces.push((i, None, true)),
            }
        }
        let total = pieces.len();
        pieces
            .into_iter()
            .enumerate()
            .map(|(k, (i, text, last))| {
                let c = candidate(&self.candidates[i], i, text.as_deref(), last);
                self.response(vec![c], k + 1 == total)
            })
            .collect()
    }
}

/// `data: {json}\r\n\r\n` events (`alt=sse`).
pub fn sse_events(chunks: &[Value]) -> Vec<Bytes> {
    chunks
        .iter()
        .map(|c| Bytes::from(format!("data: {c}\r\n\r\n")))
        .collect()
}

/// A JSON array delivered element by element, as Google streams without
/// `alt=sse`: `[{...}`, then `\n,\r\n{...}` per further element; the
/// terminator is `\n]`.
pub fn json_array_pieces(chunks: &[Value]) -> (Vec<Bytes>, Bytes) {
    let pieces = chunks
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let body = serde_json::to_string_pretty(c).unwrap_or_default();
            Bytes::from(if k == 0 {
                format!("[{body}")
            } else {
                format!("\n,\r\n{body}")
            })
        })
        .collect();
    (pieces, Bytes::from_static(b"\n]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn generation(candidates: Vec<Answer>) -> Generation {
        Generation {
            model: "gemini-2.5-flash",
            response_id: response_id(0, 1),
            prompt: PromptTokens::default(),
            candidates,
            digest: Digest::new(0),
        }
    }

    #[test]
    fn stream_reassembles_to_whole() {
        let g = generation(vec![Answer::Text {
            text: "One two three four five six seven eight nine ten eleven twelve.".into(),
            finish: Finish::Stop,
        }]);
        let whole = g.whole();
        let chunks = g.chunks();
        assert!((3..=8).contains(&chunks.len()));
        let text: String = chunks
            .iter()
            .map(|c| {
                c["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(text, whole["candidates"][0]["content"]["parts"][0]["text"]);
        assert!(
            chunks[..chunks.len() - 1]
                .iter()
                .all(|c| c["candidates"][0].get("finishReason").is_none())
        );
        let last = chunks.last().unwrap();
        assert_eq!(last["candidates"][0]["finishReason"], "STOP");
        assert_eq!(last["usageMetadata"], whole["usageMetadata"]);
        assert_eq!(g.response_id.len(), 22);
    }

    #[test]
    fn calls_and_framings() {
        let g = generation(vec![Answer::Call {
            name: "f".into(),
            args: json!({"a": 1}),
        }]);
        assert_eq!(
            g.whole()["candidates"][0]["content"]["parts"][0]["functionCall"]["args"]["a"],
            1
        );
        let chunks = vec![json!({"a": 1}), json!({"b": 2})];
        assert_eq!(sse_events(&chunks)[1], "data: {\"b\":2}\r\n\r\n");
        let (pieces, end) = json_array_pieces(&chunks);
        let joined = [pieces.concat(), end.to_vec()].concat();
        assert_eq!(
            String::from_utf8(joined.clone()).unwrap(),
            "[{\n  \"a\": 1\n}\n,\r\n{\n  \"b\": 2\n}\n]"
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&joined).unwrap(),
            json!(chunks)
        );
    }
}
