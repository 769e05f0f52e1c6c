//! `GenerateContentResponse` bodies, whole or as stream chunks, and the two
//! stream framings Google uses.
//!
//! A candidate's parts, in order: the thought summary (`{"text", "thought":
//! true}`, with `includeThoughts` when the model thought), the answer (text
//! or a `functionCall`), then an image or speech part for media models (a
//! speech model's answer is the speech alone). Its thought signature sits on
//! the first part (2.5), the call part, or the last part (Gemini 3), see
//! [`super::signatures`]. A stream sends the thought whole, the text in 3 to
//! 8 pieces, a call or a picture whole, speech in 2 to 8 pieces (see
//! [`super::media`]), and a Gemini 3 text answer's
//! signature in a final chunk with an empty text part; the last chunk of a
//! candidate has its finish reason and the last chunk of all the complete
//! usage: `candidatesTokenCount` (answer and media), `thoughtsTokenCount`
//! when the model thought, `totalTokenCount` (prompt + candidates +
//! thoughts) and, for media answers, `candidatesTokensDetails`. Every chunk
//! carries the prompt's counts: `promptTokenCount`, `promptTokensDetails`,
//! on an implicit cache hit `cachedContentTokenCount` with
//! `cacheTokensDetails`, and, when the URL context tool read pages,
//! `toolUsePromptTokenCount` with `toolUsePromptTokensDetails` (counted in
//! `totalTokenCount`). A grounded candidate's `groundingMetadata` and
//! `urlContextMetadata` (see [`super::grounding`]) come with its finish
//! reason: on the whole candidate, or on its last stream chunk.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Value, json};

use super::media::Media;
use super::request::PromptTokens;
use crate::prng::Digest;
use crate::reply::{Answer, Finish};
use crate::textgen;

/// One generation: the replies of every candidate and what they cost.
#[derive(Debug)]
pub struct Generation {
    pub model: &'static str,
    pub response_id: String,
    pub prompt: PromptTokens,
    /// The part of the prompt read from the implicit cache.
    pub cached: PromptTokens,
    /// Tokens of the pages the URL context tool read.
    pub tool_use_prompt: u64,
    pub candidates: Vec<Reply>,
    /// Decides the stream chunking.
    pub digest: Digest,
}

/// One candidate's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub answer: Answer,
    /// The thought summary shown with `includeThoughts`.
    pub thought: Option<String>,
    pub thought_tokens: u64,
    pub signature: Option<Signature>,
    pub media: Option<Media>,
    /// `groundingMetadata`, when the answer is grounded.
    pub grounding: Option<Value>,
    /// `urlContextMetadata`, when the URL context tool was declared.
    pub url_context: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub value: String,
    pub at: Placement,
}

/// Which part carries a candidate's thought signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The first part (Gemini 2.5).
    First,
    /// The function call part (Gemini 3).
    Call,
    /// The last part (Gemini 3 without a call).
    Last,
}

impl Reply {
    /// A plain reply: no thinking, no media.
    #[cfg(test)]
    pub fn plain(answer: Answer) -> Self {
        Self {
            answer,
            thought: None,
            thought_tokens: 0,
            signature: None,
            media: None,
            grounding: None,
            url_context: None,
        }
    }

    /// Whether the answer's text is shown (a speech model's is not).
    pub fn shows_text(&self) -> bool {
        self.media.as_ref().is_none_or(|m| m.with_text)
    }

    fn text_tokens(&self) -> u64 {
        match &self.answer {
            Answer::Call { .. } => self.answer.tokens(),
            Answer::Text { .. } if self.shows_text() => self.answer.tokens(),
            Answer::Text { .. } => 0,
        }
    }

    fn output_tokens(&self) -> u64 {
        self.text_tokens() + self.media.as_ref().map_or(0, |m| m.tokens)
    }

    fn finish_reason(&self) -> &'static str {
        match self.answer {
            Answer::Text {
                finish: Finish::Length,
                ..
            } if self.shows_text() => "MAX_TOKENS",
            _ => "STOP",
        }
    }

    /// The parts, each whole, or (`split`) as stream pieces; unsigned.
    fn pieces(&self, split: Option<Digest>) -> Vec<Value> {
        let mut parts = Vec::new();
        if let Some(thought) = &self.thought {
            parts.push(json!({ "text": thought, "thought": true }));
        }
        match &self.answer {
            Answer::Call { name, args } => {
                parts.push(json!({ "functionCall": { "name": name, "args": args } }));
            }
            Answer::Text { text, .. } if self.shows_text() => match split {
                Some(digest) => parts.extend(
                    textgen::chunks(text, &mut digest.part("chunks").rng())
                        .into_iter()
                        .map(|p| json!({ "text": p })),
                ),
                None => parts.push(json!({ "text": text })),
            },
            Answer::Text { .. } => {}
        }
        if let (Some(media), Answer::Text { .. }) = (&self.media, &self.answer) {
            parts.extend(media.parts(split.is_some()));
        }
        parts
    }

    /// The parts with the signature in place; a stream's trailing text
    /// signature gets a part of its own.
    fn signed(&self, split: Option<Digest>) -> Vec<Value> {
        let mut parts = self.pieces(split);
        let Some(signature) = &self.signature else {
            return parts;
        };
        let at = match signature.at {
            Placement::First => Some(0),
            Placement::Call => parts.iter().position(|p| p.get("functionCall").is_some()),
            Placement::Last
                if split.is_some() && parts.last().is_some_and(|p| p.get("text").is_some()) =>
            {
                parts.push(json!({ "text": "" }));
                Some(parts.len() - 1)
            }
            Placement::Last => parts.len().checked_sub(1),
        };
        if let Some(part) = at.and_then(|i| parts.get_mut(i)) {
            part["thoughtSignature"] = json!(signature.value);
        }
        parts
    }
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

/// A candidate with `parts`; `end` is its reply when these are its last
/// parts (its finish reason and grounding come with them).
fn candidate(parts: Vec<Value>, index: usize, end: Option<&Reply>) -> Value {
    let mut c = json!({ "content": { "parts": parts, "role": "model" } });
    if let Some(reply) = end {
        c["finishReason"] = json!(reply.finish_reason());
    }
    c["index"] = json!(index);
    if let Some(reply) = end {
        if let Some(grounding) = &reply.grounding {
            c["groundingMetadata"] = grounding.clone();
        }
        if let Some(url_context) = &reply.url_context {
            c["urlContextMetadata"] = url_context.clone();
        }
    }
    c
}

impl Generation {
    fn usage(&self, complete: bool) -> Value {
        let prompt = self.prompt.total();
        let mut u = json!({ "promptTokenCount": prompt });
        let (out, thoughts) = if complete {
            (
                self.candidates.iter().map(Reply::output_tokens).sum(),
                self.candidates.iter().map(|r| r.thought_tokens).sum(),
            )
        } else {
            (0, 0)
        };
        if out > 0 {
            u["candidatesTokenCount"] = json!(out);
        }
        let tool_use = self.tool_use_prompt;
        u["totalTokenCount"] = json!(prompt + out + thoughts + tool_use);
        if self.cached.total() > 0 {
            u["cachedContentTokenCount"] = json!(self.cached.total());
        }
        u["promptTokensDetails"] = self.prompt.details();
        if self.cached.total() > 0 {
            u["cacheTokensDetails"] = self.cached.details();
        }
        if tool_use > 0 {
            u["toolUsePromptTokenCount"] = json!(tool_use);
            u["toolUsePromptTokensDetails"] =
                json!([{ "modality": "TEXT", "tokenCount": tool_use }]);
        }
        if complete {
            let details = self.output_details();
            if !details.is_empty() {
                u["candidatesTokensDetails"] = Value::Array(details);
            }
        }
        if thoughts > 0 {
            u["thoughtsTokenCount"] = json!(thoughts);
        }
        u
    }

    /// `candidatesTokensDetails`, reported for media answers.
    fn output_details(&self) -> Vec<Value> {
        let media: Vec<&Media> = self
            .candidates
            .iter()
            .filter_map(|r| r.media.as_ref())
            .collect();
        if media.is_empty() {
            return Vec::new();
        }
        let text: u64 = self.candidates.iter().map(Reply::text_tokens).sum();
        let mut details = Vec::new();
        if text > 0 {
            details.push(json!({ "modality": "TEXT", "tokenCount": text }));
        }
        for modality in ["IMAGE", "AUDIO"] {
            let n: u64 = media
                .iter()
                .filter(|m| m.modality == modality)
                .map(|m| m.tokens)
                .sum();
            if n > 0 {
                details.push(json!({ "modality": modality, "tokenCount": n }));
            }
        }
        details
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
            .map(|(i, r)| candidate(r.signed(None), i, Some(r)))
            .collect();
        self.response(candidates, true)
    }

    /// The stream: one part per chunk, each candidate's after the other's.
    pub fn chunks(&self) -> Vec<Value> {
        let mut pieces: Vec<(usize, Value, bool)> = Vec::new();
        for (i, reply) in self.candidates.iter().enumerate() {
            let parts = reply.signed(Some(self.digest.number(i as u64)));
            let n = parts.len();
            pieces.extend(
                parts
                    .into_iter()
                    .enumerate()
                    .map(|(k, part)| (i, part, k + 1 == n)),
            );
        }
        let total = pieces.len();
        pieces
            .into_iter()
            .enumerate()
            .map(|(k, (i, part, last))| {
                let end = last.then(|| &self.candidates[i]);
                self.response(vec![candidate(vec![part], i, end)], k + 1 == total)
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
        replies(candidates.into_iter().map(Reply::plain).collect())
    }

    fn replies(candidates: Vec<Reply>) -> Generation {
        Generation {
            model: "gemini-2.5-flash",
            response_id: response_id(0, 1),
            prompt: PromptTokens::default(),
            cached: PromptTokens::default(),
            tool_use_prompt: 0,
            candidates,
            digest: Digest::new(0),
        }
    }

    fn text(t: &str) -> Answer {
        Answer::Text {
            text: t.into(),
            finish: Finish::Stop,
        }
    }

    fn signed(answer: Answer, at: Placement, thought: Option<&str>) -> Reply {
        Reply {
            answer,
            thought: thought.map(str::to_owned),
            thought_tokens: 40,
            signature: Some(Signature {
                value: "c2ln".into(),
                at,
            }),
            media: None,
            grounding: None,
            url_context: None,
        }
    }

    fn parts_of(chunks: &[Value]) -> Vec<Value> {
        chunks
            .iter()
            .map(|c| c["candidates"][0]["content"]["parts"][0].clone())
            .collect()
    }

    #[test]
    fn gemini_3_text_is_signed_on_its_last_part_and_streamed_last() {
        let g = replies(vec![signed(
            text("One two three four five six seven eight nine ten eleven twelve."),
            Placement::Last,
            Some("Thinking it over."),
        )]);
        let whole = g.whole();
        let parts = &whole["candidates"][0]["content"]["parts"];
        assert_eq!(
            parts[0],
            json!({"text": "Thinking it over.", "thought": true})
        );
        assert_eq!(parts[1]["thoughtSignature"], "c2ln");
        assert!(parts[0].get("thoughtSignature").is_none());
        assert_eq!(whole["usageMetadata"]["thoughtsTokenCount"], 40);
        let u = &whole["usageMetadata"];
        assert_eq!(
            u["totalTokenCount"].as_u64().unwrap(),
            u["candidatesTokenCount"].as_u64().unwrap() + 40
        );
        let chunks = g.chunks();
        let streamed = parts_of(&chunks);
        assert_eq!(streamed[0]["thought"], true);
        assert_eq!(
            streamed.last().unwrap(),
            &json!({"text": "", "thoughtSignature": "c2ln"})
        );
        assert!(
            streamed[..streamed.len() - 1]
                .iter()
                .all(|p| p.get("thoughtSignature").is_none())
        );
        assert_eq!(
            chunks.last().unwrap()["candidates"][0]["finishReason"],
            "STOP"
        );
        assert_eq!(
            chunks.last().unwrap()["usageMetadata"],
            whole["usageMetadata"]
        );
        assert!(
            chunks[0]["usageMetadata"]
                .get("thoughtsTokenCount")
                .is_none()
        );
    }

    #[test]
    fn calls_carry_the_signature_and_2_5_signs_its_first_part() {
        let call = Answer::Call {
            name: "f".into(),
            args: json!({}),
        };
        let g = replies(vec![signed(call.clone(), Placement::Call, Some("Plan."))]);
        let parts = g.whole()["candidates"][0]["content"]["parts"].clone();
        assert!(parts[0].get("thoughtSignature").is_none());
        assert_eq!(parts[1]["thoughtSignature"], "c2ln");
        assert_eq!(parts_of(&g.chunks())[1]["thoughtSignature"], "c2ln");
        let g = replies(vec![signed(
            text("Some words here."),
            Placement::First,
            None,
        )]);
        assert_eq!(
            g.whole()["candidates"][0]["content"]["parts"][0]["thoughtSignature"],
            "c2ln"
        );
        let streamed = parts_of(&g.chunks());
        assert_eq!(streamed[0]["thoughtSignature"], "c2ln");
        assert!(
            streamed[1..]
                .iter()
                .all(|p| p.get("thoughtSignature").is_none())
        );
    }

    #[test]
    fn media_parts_and_their_usage() {
        let mut reply = Reply::plain(text("A caption."));
        reply.media = Some(Media {
            mime_type: "image/png",
            data: vec![0],
            tokens: 1290,
            modality: "IMAGE",
            with_text: true,
        });
        let g = replies(vec![reply.clone()]);
        let whole = g.whole();
        let parts = &whole["candidates"][0]["content"]["parts"];
        assert_eq!(parts[0]["text"], "A caption.");
        assert_eq!(parts[1]["inlineData"]["mimeType"], "image/png");
        assert_eq!(whole["usageMetadata"]["candidatesTokenCount"], 3 + 1290);
        assert_eq!(
            whole["usageMetadata"]["candidatesTokensDetails"],
            json!([{"modality": "TEXT", "tokenCount": 3}, {"modality": "IMAGE", "tokenCount": 1290}])
        );
        assert_eq!(
            parts_of(&g.chunks()).last().unwrap()["inlineData"]["data"],
            "AA=="
        );
        reply.media.as_mut().unwrap().with_text = false;
        let only = replies(vec![reply]).whole();
        assert_eq!(
            only["candidates"][0]["content"]["parts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(only["usageMetadata"]["candidatesTokenCount"], 1290);
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
