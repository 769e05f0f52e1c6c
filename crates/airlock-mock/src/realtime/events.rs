//! Server events: their ids (`event_…`, `item_…`, `resp_…`, `call_…`,
//! deterministic per session), the text frames they travel in, and the
//! `error` event.

use axum::extract::ws::Message;
use serde_json::{Value, json};

use crate::openai::errors::ApiError;
use crate::prng::{Digest, alphanumeric};

/// A server event as OpenAI sends it: JSON in a text frame.
pub fn frame(event: &Value) -> Message {
    Message::Text(event.to_string().into())
}

/// Id source of one session.
#[derive(Debug)]
pub struct Ids {
    base: Digest,
    issued: u64,
}

impl Ids {
    pub fn new(seed: u64, serial: u64) -> Self {
        Self {
            base: Digest::new(seed).part("realtime-ids").number(serial),
            issued: 0,
        }
    }

    /// A fresh id: `prefix` and `len` characters of `[A-Za-z0-9]`.
    pub fn next(&mut self, prefix: &str, len: usize) -> String {
        self.issued += 1;
        format!(
            "{prefix}{}",
            alphanumeric(self.base.number(self.issued), len)
        )
    }

    pub fn event(&mut self) -> String {
        self.next("event_", 21)
    }

    pub fn item(&mut self) -> String {
        self.next("item_", 21)
    }
}

/// An event of `kind` with a fresh `event_id`, the other members from
/// `fields` (an object).
pub fn event(ids: &mut Ids, kind: &str, fields: Value) -> Value {
    let mut event = json!({ "type": kind, "event_id": ids.event() });
    if let (Some(event), Value::Object(fields)) = (event.as_object_mut(), fields) {
        event.extend(fields);
    }
    event
}

/// The `error` event for `error`, caused by the client event `client_event`
/// (its `event_id`, when it had one).
pub fn error(ids: &mut Ids, error: &ApiError, client_event: Option<&str>) -> Value {
    event(
        ids,
        "error",
        json!({ "error": {
            "type": error.kind,
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": client_event,
        } }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_shaped() {
        let mut ids = Ids::new(0, 1);
        let a = ids.event();
        let b = ids.event();
        assert_ne!(a, b);
        assert!(a.starts_with("event_") && a.len() == 27);
        assert_eq!(Ids::new(0, 1).event(), a);
        assert_ne!(Ids::new(0, 2).event(), a);
    }

    #[test]
    fn error_events() {
        let mut ids = Ids::new(0, 1);
        let e = error(
            &mut ids,
            &ApiError::invalid("bad", Some("x"), Some("invalid_value")),
            Some("evt_1"),
        );
        assert_eq!(e["type"], "error");
        assert_eq!(
            e["error"],
            json!({"type": "invalid_request_error", "code": "invalid_value", "message": "bad", "param": "x", "event_id": "evt_1"})
        );
    }
}
