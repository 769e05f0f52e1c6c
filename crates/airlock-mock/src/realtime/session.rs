//! One Realtime session as a [`Handler`]: the session object, the input
//! audio buffer with server VAD, the conversation's items, responses, and
//! OpenAI's `error` events, which never close the socket.
//!
//! Server VAD (the default `turn_detection`): speech starts with the first
//! appended chunk that is not silence (`input_audio_buffer.speech_started`)
//! and stops at the next silent chunk (`speech_stopped`); the buffer is
//! then committed and, with `create_response`, answered. Speech starting
//! during a response cancels it (`turn_detected`) unless
//! `interrupt_response` is false. With `turn_detection: null` the client
//! commits (at least 100 ms of audio) and asks for responses itself.

use std::time::Duration;

use axum::extract::ws::Message;
use serde_json::{Value, json};

use super::dialect::Dialect;
use super::events::{self, Ids, event, frame};
use super::response::{self, Active, Item, Request};
use crate::audio;
use crate::duplex::{Handler, Outbox};
use crate::gemini::validate::decode_bytes;
use crate::openai::catalog::OpenAiModel;
use crate::openai::errors::ApiError;
use crate::openai::validate::check_value;
use crate::server::MockServer;
use crate::socket::{MAX_MESSAGE_BYTES, NORMAL, TOO_BIG};

/// The shortest audio a commit accepts.
const MIN_COMMIT_MS: u64 = 100;

#[derive(Debug)]
pub struct Session {
    server: MockServer,
    model: &'static OpenAiModel,
    dialect: Dialect,
    ids: Ids,
    /// The session object, as `session.updated` shows it.
    config: Value,
    conversation_id: String,
    items: Vec<Item>,
    buffer: Buffer,
    /// All audio appended so far (speech event offsets count from here).
    heard_ms: u64,
    active: Option<Active>,
    /// Echo mode: the response and item ids the echoed deltas carry.
    echo: Option<(String, String)>,
    go_away: Option<Duration>,
}

/// The input audio buffer.
#[derive(Debug, Default)]
struct Buffer {
    audio: Vec<u8>,
    ms: u64,
    /// The item id of the speech in progress, under server VAD.
    speech: Option<String>,
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// `['a', 'b']`, as OpenAI quotes lists in messages.
fn python_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    format!("[{}]", quoted.join(", "))
}

impl Session {
    pub fn new(
        server: MockServer,
        model: &'static OpenAiModel,
        dialect: Dialect,
        serial: u64,
        go_away: Option<Duration>,
    ) -> Self {
        let mut ids = Ids::new(server.seed(), serial);
        let id = ids.next("sess_", 21);
        let expires_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 3600;
        let config = dialect.default_session(&id, model.answered_name(), expires_at);
        let conversation_id = ids.next("conv_", 21);
        let echo = server
            .live_echo()
            .then(|| (ids.next("resp_", 21), ids.item()));
        Self {
            server,
            model,
            dialect,
            ids,
            config,
            conversation_id,
            items: Vec::new(),
            buffer: Buffer::default(),
            heard_ms: 0,
            active: None,
            echo,
            go_away,
        }
    }

    /// What the server sends as soon as the socket is open.
    pub fn open(&mut self, out: &mut Outbox) {
        let created = event(
            &mut self.ids,
            "session.created",
            json!({ "session": self.config }),
        );
        out.now(frame(&created));
        if let Some(after) = self.go_away {
            out.expire_in(after);
        }
    }

    fn send(&mut self, out: &mut Outbox, kind: &str, fields: Value) {
        out.now(frame(&event(&mut self.ids, kind, fields)));
    }

    fn last_item_id(&self) -> Option<String> {
        self.items.last().map(|i| i.id().to_owned())
    }

    fn handle(&mut self, message: &[u8], out: &mut Outbox) -> Result<(), ApiError> {
        let event: Value = serde_json::from_slice(message).map_err(|e| {
            ApiError::invalid(
                format!("Invalid JSON in client event: {e}."),
                None,
                Some("invalid_json"),
            )
        })?;
        if event.get("type").is_none() {
            return Err(ApiError::invalid(
                "The 'type' field is missing.",
                None,
                Some("invalid_event"),
            ));
        }
        check_value(self.dialect.events(), &event)?;
        if !out.busy() {
            self.active = None;
        }
        match event["type"].as_str().unwrap_or("") {
            "session.update" => self.update(&event["session"], out),
            "input_audio_buffer.append" => {
                let audio =
                    decode_bytes(event["audio"].as_str().unwrap_or("")).ok_or_else(|| {
                        ApiError::invalid(
                            "Invalid 'audio'. Expected base64-encoded audio bytes.",
                            Some("audio"),
                            Some("invalid_value"),
                        )
                    })?;
                self.hear(&audio, out);
                Ok(())
            }
            "input_audio_buffer.commit" => self.commit(None, out),
            "input_audio_buffer.clear" => {
                self.buffer = Buffer::default();
                self.send(out, "input_audio_buffer.cleared", json!({}));
                Ok(())
            }
            "conversation.item.create" => self.create_item(&event, out),
            "conversation.item.retrieve" => {
                let item = self.find(&event["item_id"])?.value.clone();
                self.send(out, "conversation.item.retrieved", json!({ "item": item }));
                Ok(())
            }
            "conversation.item.delete" => {
                let id = event["item_id"].clone();
                self.find(&id)?;
                self.items.retain(|i| i.value["id"] != id);
                self.send(out, "conversation.item.deleted", json!({ "item_id": id }));
                Ok(())
            }
            "conversation.item.truncate" => {
                let end = event["audio_end_ms"].as_u64().unwrap_or(0);
                let id = event["item_id"].clone();
                let item = self.find_mut(&id)?;
                item.audio_ms = item.audio_ms.min(end);
                let fields = json!({ "item_id": id, "content_index": event["content_index"], "audio_end_ms": end });
                self.send(out, "conversation.item.truncated", fields);
                Ok(())
            }
            "response.create" => self.respond(&event["response"], out),
            "response.cancel" => match self.active.take() {
                Some(active) => {
                    response::cancel(active, "client_cancelled", self.dialect, &mut self.ids, out);
                    Ok(())
                }
                None => Err(ApiError::invalid(
                    "Cancellation failed: no active response found",
                    None,
                    Some("response_cancel_not_active"),
                )),
            },
            // WebRTC only; there is no output buffer on a WebSocket.
            _ => Ok(()),
        }
    }

    fn check_modalities(&self, params: &Value, path: &str) -> Result<(), ApiError> {
        let Some(given) = params
            .get(self.dialect.modalities_key())
            .and_then(Value::as_array)
        else {
            return Ok(());
        };
        let mut names: Vec<&str> = given.iter().filter_map(Value::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let fine = match self.dialect {
            Dialect::Beta => matches!(names.as_slice(), ["text"] | ["audio", "text"]),
            Dialect::Ga => matches!(names.as_slice(), ["text"] | ["audio"]),
        };
        if fine {
            return Ok(());
        }
        let supported = match self.dialect {
            Dialect::Beta => "['text'] and ['audio', 'text']",
            Dialect::Ga => "['text'] and ['audio']",
        };
        let given: Vec<&str> = given.iter().filter_map(Value::as_str).collect();
        Err(ApiError::invalid(
            format!(
                "Invalid modalities: {}. Supported combinations are: {supported}.",
                python_list(&given)
            ),
            Some(&format!("{path}.{}", self.dialect.modalities_key())),
            Some("invalid_value"),
        ))
    }

    fn update(&mut self, patch: &Value, out: &mut Outbox) -> Result<(), ApiError> {
        self.check_modalities(patch, "session")?;
        self.dialect.update(&mut self.config, patch);
        let session = self.config.clone();
        self.send(out, "session.updated", json!({ "session": session }));
        Ok(())
    }

    fn find(&self, id: &Value) -> Result<&Item, ApiError> {
        self.items
            .iter()
            .find(|i| i.value["id"] == *id)
            .ok_or_else(|| not_found(id))
    }

    fn find_mut(&mut self, id: &Value) -> Result<&mut Item, ApiError> {
        self.items
            .iter_mut()
            .find(|i| i.value["id"] == *id)
            .ok_or_else(|| not_found(id))
    }

    /// Appended audio, through server VAD when it is on.
    fn hear(&mut self, audio: &[u8], out: &mut Outbox) {
        let encoding = self.dialect.input_encoding(&self.config);
        let ms = encoding.duration_ms(audio.len());
        let start_ms = self.heard_ms;
        self.heard_ms += ms;
        self.buffer.audio.extend_from_slice(audio);
        self.buffer.ms += ms;
        let vad = self.dialect.turn_detection(&self.config).clone();
        if !vad.is_object() {
            return;
        }
        let silent = encoding.is_silent(audio);
        match (self.buffer.speech.clone(), silent) {
            (None, false) => {
                let item_id = self.ids.item();
                let fields = json!({ "audio_start_ms": start_ms, "item_id": item_id });
                self.send(out, "input_audio_buffer.speech_started", fields);
                self.buffer.speech = Some(item_id);
                if vad["interrupt_response"] != false
                    && let Some(active) = self.active.take()
                {
                    response::cancel(active, "turn_detected", self.dialect, &mut self.ids, out);
                }
            }
            (Some(item_id), true) => {
                let fields = json!({ "audio_end_ms": self.heard_ms, "item_id": item_id });
                self.send(out, "input_audio_buffer.speech_stopped", fields);
                if self.commit(Some(item_id), out).is_ok() && vad["create_response"] != false {
                    // Nothing is active: speech starting cancelled it.
                    let _ = self.respond(&Value::Null, out);
                }
            }
            _ => {}
        }
    }

    /// Turns the buffer into a user item (`item_id` when VAD named it).
    fn commit(&mut self, item_id: Option<String>, out: &mut Outbox) -> Result<(), ApiError> {
        if self.buffer.ms < MIN_COMMIT_MS {
            return Err(ApiError::invalid(
                format!(
                    "Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms of audio, but buffer only has {}.00ms of audio.",
                    self.buffer.ms
                ),
                None,
                Some("input_audio_buffer_commit_empty"),
            ));
        }
        let item_id = item_id.unwrap_or_else(|| self.ids.item());
        let Buffer { audio, ms, .. } = std::mem::take(&mut self.buffer);
        let heard = audio::transcript(self.server.seed(), &audio, ms);
        let previous = self.last_item_id();
        self.send(
            out,
            "input_audio_buffer.committed",
            json!({ "previous_item_id": previous, "item_id": item_id }),
        );
        let mut value = json!({ "id": item_id, "object": "realtime.item", "type": "message", "status": "completed", "role": "user", "content": [{ "type": "input_audio", "transcript": null }] });
        let transcribed = self.dialect.transcription(&self.config).is_object();
        if transcribed {
            value["content"][0]["transcript"] = json!(heard);
        }
        self.add(
            Item {
                value,
                audio_ms: ms,
                heard: Some(heard.clone()),
            },
            out,
        );
        if transcribed {
            let seconds = ms as f64 / 1000.0;
            let fields = json!({ "item_id": item_id, "content_index": 0, "transcript": heard, "usage": { "type": "duration", "seconds": seconds } });
            self.send(
                out,
                "conversation.item.input_audio_transcription.completed",
                fields,
            );
        }
        Ok(())
    }

    /// Appends an item to the conversation and announces it.
    fn add(&mut self, item: Item, out: &mut Outbox) {
        let fields = json!({ "previous_item_id": self.last_item_id(), "item": item.value });
        self.items.push(item);
        self.send(
            out,
            self.dialect.name("conversation.item.added"),
            fields.clone(),
        );
        if self.dialect == Dialect::Ga {
            self.send(out, "conversation.item.done", fields);
        }
    }

    fn create_item(&mut self, event: &Value, out: &mut Outbox) -> Result<(), ApiError> {
        let item = self.client_item(&event["item"], "item")?;
        self.add(item, out);
        Ok(())
    }

    /// A client's item, checked and in the server's form.
    fn client_item(&mut self, given: &Value, path: &str) -> Result<Item, ApiError> {
        let missing = |name: &str| {
            let p = format!("{path}.{name}");
            ApiError::invalid(
                format!("Missing required parameter: '{p}'."),
                Some(&p),
                Some("missing_required_parameter"),
            )
        };
        let kind = given["type"].as_str().ok_or_else(|| missing("type"))?;
        let required: &[&str] = match kind {
            "message" => &["role", "content"],
            "function_call" => &["name", "arguments"],
            "function_call_output" => &["call_id", "output"],
            _ => &[],
        };
        if let Some(name) = required
            .iter()
            .find(|n| given.get(**n).is_none_or(Value::is_null))
        {
            return Err(missing(name));
        }
        let mut value = given.clone();
        let id = given["id"]
            .as_str()
            .map_or_else(|| self.ids.item(), str::to_owned);
        value["id"] = json!(id);
        value["object"] = json!("realtime.item");
        if given.get("status").is_none() {
            value["status"] = json!("completed");
        }
        let mut audio_ms = 0;
        let mut heard = None;
        let role = given["role"].as_str().unwrap_or("");
        let allowed = self.dialect.contents(role);
        let encoding = self.dialect.input_encoding(&self.config);
        for (i, part) in list(&given["content"]).iter().enumerate() {
            let part_type = part["type"].as_str().unwrap_or("");
            if !allowed.contains(&part_type) {
                let p = format!("{path}.content[{i}].type");
                let supported = match allowed {
                    [one] => format!("Value must be '{one}'."),
                    many => format!(
                        "Supported values are: {}.",
                        many.iter()
                            .map(|v| format!("'{v}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(ApiError::invalid(
                    format!("Invalid value: '{part_type}'. {supported}"),
                    Some(&p),
                    Some("invalid_value"),
                ));
            }
            if let Some(audio) = part["audio"].as_str() {
                let bytes = decode_bytes(audio).unwrap_or_default();
                let ms = encoding.duration_ms(bytes.len());
                audio_ms += ms;
                heard = Some(audio::transcript(self.server.seed(), &bytes, ms));
                if let Some(shown) = value["content"][i].as_object_mut() {
                    shown.remove("audio");
                    shown.entry("transcript").or_insert(Value::Null);
                }
            }
        }
        Ok(Item {
            value,
            audio_ms,
            heard,
        })
    }

    fn respond(&mut self, params: &Value, out: &mut Outbox) -> Result<(), ApiError> {
        if let Some(active) = &self.active {
            return Err(ApiError::invalid(
                format!(
                    "Conversation already has an active response in progress: {}. Wait until the response is finished before creating a new one.",
                    active.id()
                ),
                None,
                Some("conversation_already_has_active_response"),
            ));
        }
        self.check_modalities(params, "response")?;
        let context = match params["input"].as_array() {
            Some(input) => input
                .iter()
                .enumerate()
                .map(|(i, given)| match given["type"].as_str() {
                    Some("item_reference") => self.find(&given["id"]).cloned(),
                    _ => self.client_item(given, &format!("response.input[{i}]")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => self.items.clone(),
        };
        let in_conversation = params["conversation"] != "none";
        let previous = self.last_item_id();
        let request = Request {
            dialect: self.dialect,
            seed: self.server.seed(),
            model: self.model.id,
            session: &self.config,
            params,
            context: &context,
            conversation_id: in_conversation.then_some(self.conversation_id.as_str()),
            previous_item_id: previous.as_deref(),
        };
        let (active, item) = response::deliver(&request, &mut self.ids, out);
        if in_conversation {
            self.items.push(item);
        }
        self.active = Some(active);
        Ok(())
    }

    /// Echo mode's fast path: an append answered at once with one audio
    /// delta carrying the same base64 text; `None` for anything else.
    fn echo(&mut self, message: &[u8]) -> Option<Message> {
        let (response_id, item_id) = self.echo.as_ref()?;
        let Value::Object(event) = serde_json::from_slice::<Value>(message).ok()? else {
            return None;
        };
        if event.get("type")? != "input_audio_buffer.append"
            || event
                .keys()
                .any(|k| !matches!(k.as_str(), "type" | "event_id" | "audio"))
        {
            return None;
        }
        let audio = event.get("audio")?.as_str()?;
        let base64 = audio
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if !base64 {
            return None;
        }
        let kind = self.dialect.name("response.output_audio.delta");
        let frame = format!(
            r#"{{"type":"{kind}","event_id":"{}","response_id":"{response_id}","item_id":"{item_id}","output_index":0,"content_index":0,"delta":"{audio}"}}"#,
            self.ids.event()
        );
        Some(Message::Text(frame.into()))
    }
}

fn not_found(id: &Value) -> ApiError {
    ApiError::invalid(
        format!(
            "Item with item_id not found: {}",
            id.as_str().unwrap_or_default()
        ),
        Some("item_id"),
        Some("item_not_found"),
    )
}

impl Handler for Session {
    fn on_message(&mut self, message: &[u8], out: &mut Outbox) {
        if let Some(echoed) = self.echo(message) {
            out.now(echoed);
            return;
        }
        if let Err(error) = self.handle(message, out) {
            let client_event = serde_json::from_slice::<Value>(message)
                .ok()
                .and_then(|e| e["event_id"].as_str().map(str::to_owned));
            let event = events::error(&mut self.ids, &error, client_event.as_deref());
            out.now(frame(&event));
        }
    }

    fn on_oversized(&mut self, out: &mut Outbox) {
        out.close(
            TOO_BIG,
            format!("Message too large: the limit is {MAX_MESSAGE_BYTES} bytes."),
        );
    }

    fn on_expiry(&mut self, out: &mut Outbox) {
        let expired = ApiError::invalid(
            "Your session hit the maximum duration of 60 minutes.",
            None,
            Some("session_expired"),
        );
        let event = events::error(&mut self.ids, &expired, None);
        out.now(frame(&event));
        out.close(NORMAL, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_quoted_like_python() {
        assert_eq!(python_list(&["audio"]), "['audio']");
        assert_eq!(python_list(&["audio", "text"]), "['audio', 'text']");
    }
}
