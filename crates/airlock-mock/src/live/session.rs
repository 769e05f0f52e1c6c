//! One Gemini Live session as a [`Handler`]: the setup handshake, the
//! client's turns (text, speech or tool results), activity and
//! interruptions, and Google's strictness, which ends the session with a
//! close frame (see [`super::close`] and the crate documentation).
//!
//! Speech: with automatic activity detection (the default) a spoken turn
//! starts with the first audio chunk that is not silence and ends at the
//! next silent chunk (or `audioStreamEnd`); with
//! `automaticActivityDetection.disabled` it is the audio between
//! `activityStart` and `activityEnd`. The turn is heard as
//! [`crate::audio::transcript`], reported as `inputTranscription` when the
//! setup asks for it, and answered.
//!
//! Interruptions: `clientContent`, `realtimeInput.text`, and the start of
//! speech or `activityStart` (unless `activityHandling` is
//! `NO_INTERRUPTION`) cut a model turn still being delivered: the rest is
//! dropped and `interrupted`, then `turnComplete`, are sent. Calls still
//! waiting for results are withdrawn with `toolCallCancellation`.

use std::time::Duration;

use serde_json::{Value, json};

use super::close::{self, Close, INVALID_ARGUMENT};
use super::conversation::{Conversation, audio_tokens};
use super::proto::CLIENT_MESSAGE;
use super::resume::Saved;
use super::{echo, frame};
use crate::audio::{self, Encoding};
use crate::casing::camel_to_snake;
use crate::duplex::{Handler, Outbox};
use crate::gemini::catalog;
use crate::gemini::request::content_problems;
use crate::gemini::validate::{self, decode_bytes};
use crate::server::MockServer;
use crate::socket::MAX_MESSAGE_BYTES;
use crate::tokens::MEDIA_PART_TOKENS;

/// Audio chunks whose MIME type names no rate are taken as 16 kHz PCM.
const DEFAULT_INPUT_RATE: u32 = 16000;

#[derive(Debug)]
pub struct Session {
    server: MockServer,
    version: String,
    serial: u64,
    go_away: Option<Duration>,
    echo: bool,
    /// Client messages taken so far.
    consumed: u64,
    open: Option<Open>,
}

/// A session past its setup.
#[derive(Debug)]
struct Open {
    conversation: Conversation,
    ear: Ear,
}

/// The spoken turn being heard.
#[derive(Debug, Default)]
struct Ear {
    audio: Vec<u8>,
    ms: u64,
    hearing: bool,
}

impl Session {
    pub fn new(
        server: MockServer,
        version: String,
        serial: u64,
        go_away: Option<Duration>,
    ) -> Self {
        Self {
            echo: server.live_echo(),
            server,
            version,
            serial,
            go_away,
            consumed: 0,
            open: None,
        }
    }

    fn handle(&mut self, message: &[u8], out: &mut Outbox) -> Result<(), Close> {
        let value: Value = serde_json::from_slice(message).map_err(|e| close::malformed(&e))?;
        let parsed = validate::parse(&CLIENT_MESSAGE, value, &self.version).map_err(|v| {
            close::invalid(
                v.into_iter()
                    .next()
                    .map(|v| v.description)
                    .unwrap_or_default(),
            )
        })?;
        let (kind, body) = single(parsed)?;
        self.consumed += 1;
        let consumed = self.consumed;
        let seed = self.server.seed();
        match (self.open.as_mut(), kind.as_str()) {
            (None, "setup") => self.setup(body, out),
            (None, _) | (Some(_), "setup") => Err(close::invalid(INVALID_ARGUMENT)),
            (Some(open), "clientContent") => open.client_content(&body, consumed, out),
            (Some(open), "realtimeInput") => open.realtime_input(&body, seed, consumed, out),
            (Some(open), "toolResponse") => open.tool_response(&body, consumed, out),
            (Some(open), _) => {
                open.conversation.update_context(&body);
                Ok(())
            }
        }
    }

    fn setup(&mut self, setup: Value, out: &mut Outbox) -> Result<(), Close> {
        let name = setup["model"].as_str().unwrap_or("");
        if name.is_empty() {
            return Err(close::invalid(INVALID_ARGUMENT));
        }
        let model = catalog::find(name)
            .filter(|m| m.supports("bidiGenerateContent"))
            .ok_or_else(|| {
                close::model_not_found(name.strip_prefix("models/").unwrap_or(name), &self.version)
            })?;
        let saved = match setup["sessionResumption"]["handle"].as_str() {
            Some(handle) if !handle.is_empty() => self
                .server
                .live_resumptions()
                .load(handle)
                .ok_or_else(close::unknown_handle)?,
            _ => Saved::default(),
        };
        let conversation = Conversation::new(model, setup, saved, self.server.clone(), self.serial);
        self.open = Some(Open {
            conversation,
            ear: Ear::default(),
        });
        out.now(frame(&json!({ "setupComplete": {} })));
        if let Some(left) = self.go_away {
            out.now(frame(
                &json!({ "goAway": { "timeLeft": duration_text(left) } }),
            ));
            out.expire_in(left);
        }
        Ok(())
    }
}

/// The one field a client message sets.
fn single(parsed: Value) -> Result<(String, Value), Close> {
    let Value::Object(fields) = parsed else {
        return Err(close::invalid(INVALID_ARGUMENT));
    };
    let mut fields = fields.into_iter();
    let Some(first) = fields.next() else {
        return Err(close::invalid(INVALID_ARGUMENT));
    };
    if let Some((second, _)) = fields.next() {
        return Err(close::invalid(format!(
            "Invalid JSON payload received. Oneof field 'message_type' is already set. Cannot set '{}'",
            camel_to_snake(&second)
        )));
    }
    Ok(first)
}

/// A `google.protobuf.Duration` as JSON: `"2s"`, `"1.500s"`.
fn duration_text(d: Duration) -> String {
    match d.subsec_millis() {
        0 => format!("{}s", d.as_secs()),
        ms => format!("{}.{ms:03}s", d.as_secs()),
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

impl Open {
    /// New user input: a model turn still being delivered stops, calls
    /// still waiting are withdrawn. Speech respects `activityHandling`.
    fn interrupt(&mut self, by_speech: bool, out: &mut Outbox) {
        if out.busy() && (!by_speech || self.conversation.interruptible()) {
            out.cancel_turn();
            out.now(frame(&json!({ "serverContent": { "interrupted": true } })));
            out.now(frame(&json!({ "serverContent": { "turnComplete": true } })));
        }
        let ids = std::mem::take(&mut self.conversation.pending_calls);
        if !ids.is_empty() {
            out.now(frame(&json!({ "toolCallCancellation": { "ids": ids } })));
        }
    }

    fn client_content(
        &mut self,
        body: &Value,
        consumed: u64,
        out: &mut Outbox,
    ) -> Result<(), Close> {
        let turns = list(&body["turns"]);
        let mut problems = Vec::new();
        for (i, turn) in turns.iter().enumerate() {
            if !matches!(turn["role"].as_str(), None | Some("" | "user" | "model")) {
                return Err(close::invalid("Please use a valid role: user, model."));
            }
            content_problems(
                turn,
                &format!("BidiGenerateContentClientContent.turns[{i}]"),
                &mut problems,
            );
        }
        if let Some(problem) = problems.into_iter().next() {
            return Err(close::invalid(format!("* {problem}")));
        }
        self.interrupt(false, out);
        for turn in turns {
            let role = turn["role"]
                .as_str()
                .filter(|r| !r.is_empty())
                .unwrap_or("user");
            self.conversation
                .add_turn(role, turn["parts"].as_array().cloned().unwrap_or_default());
        }
        if body["turnComplete"] == true {
            self.conversation.respond(consumed, out);
        }
        Ok(())
    }

    fn realtime_input(
        &mut self,
        body: &Value,
        seed: u64,
        consumed: u64,
        out: &mut Outbox,
    ) -> Result<(), Close> {
        let manual = self.conversation.manual_activity();
        let signals = body.get("activityStart").is_some() || body.get("activityEnd").is_some();
        if signals && !manual {
            return Err(close::invalid(
                "Explicit activity control is not supported when automatic activity detection is enabled.",
            ));
        }
        if body.get("activityStart").is_some() {
            self.interrupt(true, out);
            self.ear = Ear {
                hearing: true,
                ..Ear::default()
            };
        }
        for blob in list(&body["mediaChunks"]).iter().chain(body.get("audio")) {
            self.take(blob, manual, seed, consumed, out);
        }
        if body.get("video").is_some() {
            self.conversation.add_media(0, MEDIA_PART_TOKENS);
        }
        if let Some(text) = body["text"].as_str().filter(|t| !t.is_empty()) {
            self.interrupt(false, out);
            self.conversation
                .add_turn("user", vec![json!({ "text": text })]);
            self.conversation.respond(consumed, out);
        }
        let ends = body.get("activityEnd").is_some() || (body["audioStreamEnd"] == true && !manual);
        if ends {
            self.end_speech(seed, consumed, out);
        }
        Ok(())
    }

    /// One media chunk: audio feeds the ear, anything else is a frame seen.
    fn take(&mut self, blob: &Value, manual: bool, seed: u64, consumed: u64, out: &mut Outbox) {
        let mime = blob["mimeType"].as_str().unwrap_or("");
        if !mime.starts_with("audio/") {
            self.conversation.add_media(0, MEDIA_PART_TOKENS);
            return;
        }
        let bytes = decode_bytes(blob["data"].as_str().unwrap_or("")).unwrap_or_default();
        let encoding = Encoding::Pcm16 {
            rate: audio::pcm_rate(mime).unwrap_or(DEFAULT_INPUT_RATE),
        };
        let silent = encoding.is_silent(&bytes);
        if !manual && !silent && !self.ear.hearing {
            self.interrupt(true, out);
            self.ear.hearing = true;
        }
        if self.ear.hearing && (manual || !silent) {
            self.ear.ms += encoding.duration_ms(bytes.len());
            self.ear.audio.extend_from_slice(&bytes);
        } else if !manual && silent && self.ear.hearing {
            self.end_speech(seed, consumed, out);
        }
    }

    fn end_speech(&mut self, seed: u64, consumed: u64, out: &mut Outbox) {
        let Ear { audio, ms, .. } = std::mem::take(&mut self.ear);
        if audio.is_empty() {
            return;
        }
        let heard = audio::transcript(seed, &audio, ms);
        self.conversation.add_media(audio_tokens(ms), 0);
        if self.conversation.transcribes_input() {
            out.then(frame(
                &json!({ "serverContent": { "inputTranscription": { "text": heard } } }),
            ));
        }
        self.conversation
            .add_turn("user", vec![json!({ "text": heard })]);
        self.conversation.respond(consumed, out);
    }

    fn tool_response(
        &mut self,
        body: &Value,
        consumed: u64,
        out: &mut Outbox,
    ) -> Result<(), Close> {
        let responses = list(&body["functionResponses"]);
        let pending = &self.conversation.pending_calls;
        let answered: Option<Vec<&str>> = responses
            .iter()
            .map(|r| {
                r["id"]
                    .as_str()
                    .filter(|id| pending.iter().any(|p| p == id))
            })
            .collect();
        let Some(answered) = answered.filter(|a| !a.is_empty()) else {
            return Err(close::invalid(INVALID_ARGUMENT));
        };
        self.conversation
            .pending_calls
            .retain(|p| !answered.contains(&p.as_str()));
        let parts = responses
            .iter()
            .map(|r| json!({ "functionResponse": r }))
            .collect();
        self.conversation.add_turn("user", parts);
        if self.conversation.pending_calls.is_empty() {
            self.conversation.respond(consumed, out);
        }
        Ok(())
    }
}

impl Handler for Session {
    fn on_message(&mut self, message: &[u8], out: &mut Outbox) {
        if self.echo
            && self.open.is_some()
            && let Some(frames) = echo::answer(message)
        {
            frames.into_iter().for_each(|f| out.now(f));
            return;
        }
        if let Err(close) = self.handle(message, out) {
            out.close(close.code, close.reason);
        }
    }

    fn on_oversized(&mut self, out: &mut Outbox) {
        let close = close::too_large(MAX_MESSAGE_BYTES);
        out.close(close.code, close.reason);
    }

    fn on_expiry(&mut self, out: &mut Outbox) {
        let close = close::aborted();
        out.close(close.code, close.reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_protobuf_json() {
        assert_eq!(duration_text(Duration::from_secs(2)), "2s");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1.500s");
        assert_eq!(duration_text(Duration::from_millis(5)), "0.005s");
    }

    #[test]
    fn a_message_sets_one_field() {
        assert_eq!(
            single(json!({"setup": {}})).unwrap(),
            ("setup".to_owned(), json!({}))
        );
        assert_eq!(single(json!({})).unwrap_err().code, 1007);
        assert!(
            single(json!({"setup": {}, "clientContent": {}}))
                .unwrap_err()
                .reason
                .ends_with("Cannot set 'client_content'")
        );
    }
}
