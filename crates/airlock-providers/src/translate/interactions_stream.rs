//! Streaming: the engine's Responses events → the Interactions API's SSE
//! events as google-genai parses them (`InteractionSSEEvent`, told apart by
//! `event_type`):
//!
//! * `response.created` → `interaction.created` (the interaction
//!   `in_progress`, no steps) and `interaction.status_update`;
//! * an output item added → `step.start` with the next step `index`: a
//!   message → a `model_output` step, a function call → a `function_call`
//!   step (empty `arguments`, which follow as deltas), reasoning → a
//!   `thought` step;
//! * `response.output_text.delta` (and refusal deltas) → `step.delta` with
//!   a `text` delta; `response.function_call_arguments.delta` → an
//!   `arguments_delta`; reasoning summary deltas → `thought_summary`;
//! * an output item done → `step.stop`. A thought signature the item
//!   carries (`extra_content.google.thought_signature`) is a `thought` step
//!   of its own: before the call when the item came with it, after the
//!   item when it came at its end;
//! * `response.completed` / `response.incomplete` → `interaction.completed`
//!   with the status ([`status`](super::object::status): a call waiting for
//!   its result is `requires_action`) and the usage; `response.failed` and
//!   a stream `error` → an `error` event (and, for a failed response,
//!   `interaction.completed` with status `failed`).
//!
//! Events of other kinds (content parts, `*.done` of text and arguments)
//! carry nothing new and give nothing.

use serde_json::{Value, json};

use super::object::{signature, signature_step, status, usage};
use super::{Rfc3339, stream_error};

/// Turns one Responses event stream into Interactions events; one per
/// client stream.
pub struct InteractionsStreamTranslator {
    rfc3339: Rfc3339,
    /// The step index of each output item, by its `output_index`.
    steps: Vec<(u64, u64)>,
    next_step: u64,
    /// Output items whose thought signature has been sent as a step.
    signed: Vec<u64>,
}

impl InteractionsStreamTranslator {
    /// A translator whose interactions' times are written by `rfc3339`.
    /// Built by the gateway's `surface/gemini/interactions.rs` around the
    /// engine's stream.
    pub fn new(rfc3339: Rfc3339) -> Self {
        Self {
            rfc3339,
            steps: Vec::new(),
            next_step: 0,
            signed: Vec::new(),
        }
    }

    /// The Interactions events one Responses event gives, each with its
    /// `event_type`.
    pub fn push(&mut self, event: &Value) -> Vec<Value> {
        let response = &event["response"];
        match event["type"].as_str().unwrap_or_default() {
            "response.created" => vec![
                self.lifecycle("interaction.created", response),
                json!({"interaction_id": response["id"], "status": "in_progress",
                       "event_type": "interaction.status_update"}),
            ],
            "response.output_item.added" => self.item_added(event),
            "response.output_text.delta" | "response.refusal.delta" => {
                self.delta(event, json!({"type": "text", "text": event["delta"]}))
            }
            "response.function_call_arguments.delta" => self.delta(
                event,
                json!({"type": "arguments_delta", "arguments": event["delta"]}),
            ),
            "response.reasoning_summary_text.delta" => self.delta(
                event,
                json!({"type": "thought_summary", "content": {"type": "text", "text": event["delta"]}}),
            ),
            "response.output_item.done" => self.item_done(event),
            "response.completed" | "response.incomplete" => {
                vec![self.lifecycle("interaction.completed", response)]
            }
            "response.failed" => vec![
                json!({"error": stream_error(&response["error"]), "event_type": "error"}),
                self.lifecycle("interaction.completed", response),
            ],
            "error" => vec![json!({"error": stream_error(event), "event_type": "error"})],
            _ => Vec::new(),
        }
    }

    /// `interaction.created` / `interaction.completed`: the interaction
    /// without its steps.
    fn lifecycle(&self, kind: &str, response: &Value) -> Value {
        let created = response["created_at"].as_u64().unwrap_or(0);
        let mut interaction = json!({
            "id": response["id"],
            "object": "interaction",
            "model": response["model"],
            "status": status(response),
            "created": (self.rfc3339)(created),
        });
        if let Some(updated) = response["completed_at"].as_u64() {
            interaction["updated"] = json!((self.rfc3339)(updated));
        }
        if let Some(usage) = usage(&response["usage"]) {
            interaction["usage"] = usage;
        }
        json!({"interaction": interaction, "event_type": kind})
    }

    fn item_added(&mut self, event: &Value) -> Vec<Value> {
        let item = &event["item"];
        let step = match item["type"].as_str() {
            Some("message") => json!({"type": "model_output"}),
            Some("function_call") => json!({"type": "function_call", "id": item["call_id"],
                                            "name": item["name"], "arguments": {}}),
            Some("reasoning") => json!({"type": "thought"}),
            _ => return Vec::new(),
        };
        let output = event["output_index"].as_u64().unwrap_or(0);
        let mut events = Vec::new();
        if let Some(signature) = signature(item) {
            self.signed.push(output);
            events.extend(self.signature_step(signature));
        }
        let index = self.take_step();
        self.steps.push((output, index));
        events.push(json!({"index": index, "step": step, "event_type": "step.start"}));
        events
    }

    fn item_done(&mut self, event: &Value) -> Vec<Value> {
        let output = event["output_index"].as_u64().unwrap_or(0);
        let Some(index) = self.step_of(output) else {
            return Vec::new();
        };
        let mut events = vec![json!({"index": index, "event_type": "step.stop"})];
        if let Some(signature) = signature(&event["item"])
            && !self.signed.contains(&output)
        {
            self.signed.push(output);
            events.extend(self.signature_step(signature));
        }
        events
    }

    fn delta(&self, event: &Value, delta: Value) -> Vec<Value> {
        let output = event["output_index"].as_u64().unwrap_or(0);
        match self.step_of(output) {
            Some(index) => {
                vec![json!({"index": index, "delta": delta, "event_type": "step.delta"})]
            }
            None => Vec::new(),
        }
    }

    /// A `thought` step that carries a signature, started and stopped.
    fn signature_step(&mut self, signature: &str) -> [Value; 2] {
        let index = self.take_step();
        [
            json!({"index": index, "step": signature_step(signature), "event_type": "step.start"}),
            json!({"index": index, "event_type": "step.stop"}),
        ]
    }

    fn take_step(&mut self) -> u64 {
        let index = self.next_step;
        self.next_step += 1;
        index
    }

    fn step_of(&self, output: u64) -> Option<u64> {
        self.steps
            .iter()
            .find(|(item, _)| *item == output)
            .map(|(_, step)| *step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> String {
        format!("t{secs}")
    }

    fn translate(events: &[Value]) -> Vec<Value> {
        let mut translator = InteractionsStreamTranslator::new(at);
        events.iter().flat_map(|e| translator.push(e)).collect()
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e["event_type"].as_str().unwrap_or_default())
            .collect()
    }

    fn created() -> Value {
        json!({"type": "response.created", "sequence_number": 0, "response": {
            "id": "resp_1", "object": "response", "created_at": 100, "status": "in_progress",
            "model": "gemini-2.5-flash", "output": [], "usage": null}})
    }

    #[test]
    fn a_text_answer_streams_as_one_model_output_step() {
        let message = json!({"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []});
        let events = translate(&[
            created(),
            json!({"type": "response.in_progress", "response": {"id": "resp_1"}}),
            json!({"type": "response.output_item.added", "output_index": 0, "item": message}),
            json!({"type": "response.content_part.added", "output_index": 0, "content_index": 0}),
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": "Hel"}),
            json!({"type": "response.output_text.delta", "output_index": 0, "delta": "lo"}),
            json!({"type": "response.output_text.done", "output_index": 0, "text": "Hello"}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": message}),
            json!({"type": "response.completed", "response": {
                "id": "resp_1", "created_at": 100, "completed_at": 101, "status": "completed",
                "model": "gemini-2.5-flash", "output": [message],
                "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}}}),
        ]);
        assert_eq!(
            kinds(&events),
            [
                "interaction.created",
                "interaction.status_update",
                "step.start",
                "step.delta",
                "step.delta",
                "step.stop",
                "interaction.completed"
            ]
        );
        assert_eq!(
            events[0],
            json!({"interaction": {"id": "resp_1", "object": "interaction", "model": "gemini-2.5-flash",
                                   "status": "in_progress", "created": "t100"},
                   "event_type": "interaction.created"})
        );
        assert_eq!(
            events[1],
            json!({"interaction_id": "resp_1", "status": "in_progress", "event_type": "interaction.status_update"})
        );
        assert_eq!(
            events[2],
            json!({"index": 0, "step": {"type": "model_output"}, "event_type": "step.start"})
        );
        assert_eq!(
            events[4],
            json!({"index": 0, "delta": {"type": "text", "text": "lo"}, "event_type": "step.delta"})
        );
        let completed = &events[6]["interaction"];
        assert_eq!(completed["status"], "completed");
        assert_eq!(completed["updated"], "t101");
        assert_eq!(completed["usage"]["total_tokens"], 5);
    }

    #[test]
    fn a_signed_call_streams_its_thought_first_and_requires_action() {
        let call = json!({"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "",
                          "call_id": "call_1", "name": "weather",
                          "extra_content": {"google": {"thought_signature": "c2ln"}}});
        let mut done = call.clone();
        done["arguments"] = json!("{\"city\":\"Paris\"}");
        let events = translate(&[
            created(),
            json!({"type": "response.output_item.added", "output_index": 0, "item": call}),
            json!({"type": "response.function_call_arguments.delta", "output_index": 0, "delta": "{\"city\":\"Paris\"}"}),
            json!({"type": "response.function_call_arguments.done", "output_index": 0}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": done}),
            json!({"type": "response.completed", "response": {"id": "resp_1", "created_at": 100,
                "status": "completed", "model": "m", "output": [done], "usage": null}}),
        ]);
        assert_eq!(
            events[2..7],
            [
                json!({"index": 0, "step": {"type": "thought", "signature": "c2ln"}, "event_type": "step.start"}),
                json!({"index": 0, "event_type": "step.stop"}),
                json!({"index": 1, "step": {"type": "function_call", "id": "call_1", "name": "weather", "arguments": {}},
                       "event_type": "step.start"}),
                json!({"index": 1, "delta": {"type": "arguments_delta", "arguments": "{\"city\":\"Paris\"}"},
                       "event_type": "step.delta"}),
                json!({"index": 1, "event_type": "step.stop"}),
            ]
        );
        assert_eq!(events[7]["interaction"]["status"], "requires_action");
        assert_eq!(events.len(), 8);
    }

    #[test]
    fn a_late_signature_follows_its_answer() {
        let message = json!({"id": "msg_1", "type": "message", "role": "assistant", "content": []});
        let mut signed = message.clone();
        signed["extra_content"] = json!({"google": {"thought_signature": "c2ln"}});
        let events = translate(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": message}),
            json!({"type": "response.output_item.done", "output_index": 0, "item": signed}),
        ]);
        assert_eq!(
            kinds(&events),
            ["step.start", "step.stop", "step.start", "step.stop"]
        );
        assert_eq!(
            events[2]["step"],
            json!({"type": "thought", "signature": "c2ln"})
        );
        assert_eq!(events[2]["index"], 1);
    }

    #[test]
    fn failures_and_errors_arrive_as_error_events() {
        let events = translate(&[
            json!({"type": "error", "code": "rate_limit_exceeded", "message": "Slow down."}),
            json!({"type": "response.failed", "response": {"id": "resp_1", "created_at": 100,
                "status": "failed", "model": "m", "output": [],
                "error": {"code": "server_error", "message": "The model failed."}}}),
        ]);
        assert_eq!(
            events[0],
            json!({"error": {"code": "rate_limit_exceeded", "message": "Slow down."}, "event_type": "error"})
        );
        assert_eq!(
            events[1],
            json!({"error": {"code": "api_error", "message": "The model failed."}, "event_type": "error"})
        );
        assert_eq!(events[2]["interaction"]["status"], "failed");
    }
}
