//! Streaming: the OpenAI `chat.completion.chunk`s a
//! [`ChatStreamTranslator`](crate::translate::ChatStreamTranslator) makes of
//! a Gemini stream → Responses stream events, in OpenAI's order, each with
//! its `type` and a rising `sequence_number` from 0:
//!
//! * `response.created` and `response.in_progress` (the response
//!   `in_progress`, no output) open the stream.
//! * Web search (when the request lets the model search): the
//!   `web_search_call` item opens at output index 0 right away
//!   (`response.output_item.added`, `response.web_search_call.in_progress`,
//!   `.searching`), since the answer's text may follow at once; Gemini
//!   tells what it searched with its last chunk, so the item closes
//!   (`response.web_search_call.completed`, `response.output_item.done`
//!   with the queries) when the choice finishes, or at the end. The
//!   gateway gives each Gemini chunk to
//!   [`ResponsesStreamTranslator::read_gemini`] before its chat chunks.
//! * Text: `response.output_item.added` (the message, `in_progress`),
//!   `response.content_part.added`, then one `response.output_text.delta`
//!   per chat content delta, sent as it comes; the message closes (with one
//!   `response.output_text.annotation.added` per `url_citation` of the
//!   grounding known by then, `response.output_text.done`,
//!   `response.content_part.done`, `response.output_item.done`) when the
//!   choice finishes, when a tool call follows it, or at the end.
//! * Tool calls: the chat translator sends each call whole, so each gives
//!   at once `response.output_item.added` (the `function_call`, empty
//!   arguments), one `response.function_call_arguments.delta`,
//!   `response.function_call_arguments.done` and `response.output_item.done`.
//! * [`ResponsesStreamTranslator::finish`] ends with `response.completed`
//!   (or `response.incomplete`), carrying the whole response object as
//!   [`gemini_response_to_responses`](super::gemini_response_to_responses)
//!   builds it for the complete answer, with the usage of the chat usage
//!   chunk.
//!
//! A text answer's thought signature (a delta's own `extra_content`, which
//! Gemini 3 sends last) goes on the last message item: on its
//! `output_item.done` when it came before the message closed, and in the
//! final response object either way. Only choice 0 is read.

use serde_json::{Map, Value, json};

use super::object::{
    Envelope, Outcome, call_arguments, function_call_item, item_id, message_item, output_text,
    usage,
};
use super::search::{self, Grounding};

/// Turns one chat chunk stream into Responses events; one per client stream.
pub struct ResponsesStreamTranslator {
    envelope: Envelope,
    id: String,
    /// The next event's `sequence_number`.
    sequence: u64,
    started: bool,
    finished: bool,
    /// The output items so far; an open message is there as added.
    output: Vec<Value>,
    /// The message being streamed.
    text: Option<OpenText>,
    /// The text answer's `extra_content` (its thought signature).
    signature: Option<Value>,
    finish_reason: Option<String>,
    usage: Value,
    /// The web search item, when the request lets the model search.
    search: Option<WebSearch>,
    /// The grounding of choice 0, once Gemini sent it.
    grounding: Option<Grounding>,
}

/// The `web_search_call` item of the stream, at output index 0.
struct WebSearch {
    id: String,
    with_sources: bool,
    open: bool,
}

/// A message item whose text is still coming.
struct OpenText {
    index: usize,
    id: String,
    text: String,
}

impl ResponsesStreamTranslator {
    /// A translator for the response `id`, created at `created_at` (Unix
    /// seconds), answering `request` (the Responses body). Built by the
    /// gateway's `dispatch/responses.rs` for a streamed Gemini route, next
    /// to the `ChatStreamTranslator` whose chunks it is given.
    pub fn new(request: &Value, id: &str, created_at: u64) -> Self {
        Self {
            envelope: Envelope::new(request, id, created_at),
            id: id.to_owned(),
            sequence: 0,
            started: false,
            finished: false,
            output: Vec::new(),
            text: None,
            signature: None,
            finish_reason: None,
            usage: Value::Null,
            search: search::searches(request).then(|| WebSearch {
                id: item_id("ws_", id, 0),
                with_sources: search::wants_sources(request),
                open: false,
            }),
            grounding: None,
        }
    }

    /// Notes the grounding a Gemini stream chunk carries (for its first
    /// candidate); give each chunk here before the chat chunks it makes.
    pub fn read_gemini(&mut self, gemini_chunk: &Value) {
        let candidates = gemini_chunk["candidates"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let first = candidates
            .iter()
            .enumerate()
            .find(|(position, c)| c["index"].as_u64().unwrap_or(*position as u64) == 0);
        if let Some(grounding) = first.and_then(|(_, c)| Grounding::of_candidate(c)) {
            self.grounding = Some(grounding);
        }
    }

    /// The events one chat chunk gives (the first call also opens the
    /// stream). Chunks pushed after [`finish`](Self::finish) are ignored.
    pub fn push(&mut self, chat_chunk: &Value) -> Vec<Value> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        self.start(&mut events);
        if let Some(usage) = chat_chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = usage.clone();
        }
        let choices = chat_chunk["choices"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for choice in choices.iter().filter(|c| c["index"].as_u64() == Some(0)) {
            self.delta(&choice["delta"], &mut events);
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish_reason = Some(reason.to_owned());
                self.close_search(&mut events);
                self.close_text(&mut events);
            }
        }
        events
    }

    /// The closing events, once the chat stream has ended (after its usage
    /// chunk was pushed). Later calls return nothing.
    pub fn finish(&mut self) -> Vec<Value> {
        let mut events = Vec::new();
        if self.finished {
            return events;
        }
        self.start(&mut events);
        self.close_search(&mut events);
        self.close_text(&mut events);
        self.finished = true;
        let outcome = self.outcome();
        let mut output = std::mem::take(&mut self.output);
        if let (Some(signature), Some(last)) = (
            &self.signature,
            output.iter_mut().rfind(|item| item["type"] == "message"),
        ) {
            last["extra_content"] = signature.clone();
        }
        let response = self.envelope.finished(output, outcome, usage(&self.usage));
        let kind = match outcome {
            Outcome::Completed => "response.completed",
            Outcome::Incomplete(_) => "response.incomplete",
        };
        self.emit(&mut events, kind, json!({"response": response}));
        events
    }

    fn outcome(&self) -> Outcome {
        Outcome::of(self.finish_reason.as_deref())
    }

    fn start(&mut self, events: &mut Vec<Value>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.envelope.in_progress();
        self.emit(events, "response.created", json!({"response": response}));
        self.emit(
            events,
            "response.in_progress",
            json!({"response": response}),
        );
        self.open_search(events);
    }

    /// Opens the web search item, first of the output.
    fn open_search(&mut self, events: &mut Vec<Value>) {
        let Some(id) = self.search.as_mut().map(|s| {
            s.open = true;
            s.id.clone()
        }) else {
            return;
        };
        let item = search::started_call(&id);
        self.emit(
            events,
            "response.output_item.added",
            json!({"output_index": 0, "item": item}),
        );
        self.output.push(item);
        for kind in ["in_progress", "searching"] {
            self.emit(
                events,
                &format!("response.web_search_call.{kind}"),
                json!({"output_index": 0, "item_id": id}),
            );
        }
    }

    /// Closes the web search item with what Gemini searched.
    fn close_search(&mut self, events: &mut Vec<Value>) {
        let closing = self.search.as_mut().filter(|s| s.open).map(|s| {
            s.open = false;
            (s.id.clone(), s.with_sources)
        });
        let Some((id, with_sources)) = closing else {
            return;
        };
        let item = search::finished_call(&id, self.grounding.as_ref(), with_sources);
        self.emit(
            events,
            "response.web_search_call.completed",
            json!({"output_index": 0, "item_id": id}),
        );
        if let Some(slot) = self.output.first_mut() {
            *slot = item.clone();
        }
        self.emit(
            events,
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
    }

    /// One chat delta: its text, its signature, its tool calls, in order.
    fn delta(&mut self, delta: &Value, events: &mut Vec<Value>) {
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            self.text_delta(text, events);
        }
        if let Some(extra) = delta.get("extra_content").filter(|e| e.is_object()) {
            self.signature = Some(extra.clone());
        }
        let calls = delta["tool_calls"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for call in calls.iter().filter(|c| c.is_object()) {
            self.call(call, events);
        }
    }

    fn text_delta(&mut self, delta: &str, events: &mut Vec<Value>) {
        let (index, id) = match &mut self.text {
            Some(open) => {
                open.text.push_str(delta);
                (open.index, open.id.clone())
            }
            None => self.open_text(delta, events),
        };
        self.emit(
            events,
            "response.output_text.delta",
            json!({"item_id": id, "output_index": index, "content_index": 0, "delta": delta, "logprobs": []}),
        );
    }

    /// Adds a message item and its text part; returns its index and id.
    fn open_text(&mut self, first: &str, events: &mut Vec<Value>) -> (usize, String) {
        let index = self.output.len();
        let id = item_id("msg_", &self.id, index);
        let item = message_item(&id, "in_progress", None);
        self.emit(
            events,
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        );
        self.output.push(item);
        self.emit(
            events,
            "response.content_part.added",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": output_text("", &[])}),
        );
        self.text = Some(OpenText {
            index,
            id: id.clone(),
            text: first.to_owned(),
        });
        (index, id)
    }

    fn close_text(&mut self, events: &mut Vec<Value>) {
        let Some(open) = self.text.take() else {
            return;
        };
        let OpenText { index, id, text } = open;
        let annotations = self
            .grounding
            .as_ref()
            .map(|g| g.annotations(&text))
            .unwrap_or_default();
        for (k, annotation) in annotations.iter().enumerate() {
            self.emit(
                events,
                "response.output_text.annotation.added",
                json!({"item_id": id, "output_index": index, "content_index": 0,
                       "annotation_index": k, "annotation": annotation}),
            );
        }
        self.emit(
            events,
            "response.output_text.done",
            json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
        );
        self.emit(
            events,
            "response.content_part.done",
            json!({"item_id": id, "output_index": index, "content_index": 0, "part": output_text(&text, &annotations)}),
        );
        let mut item = message_item(
            &id,
            self.outcome().item_status(),
            Some((&text, &annotations)),
        );
        if let Some(signature) = &self.signature {
            item["extra_content"] = signature.clone();
        }
        if let Some(slot) = self.output.get_mut(index) {
            *slot = item.clone();
        }
        self.emit(
            events,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }

    /// A whole chat tool call → a complete `function_call` item.
    fn call(&mut self, call: &Value, events: &mut Vec<Value>) {
        self.close_text(events);
        let index = self.output.len();
        let id = item_id("fc_", &self.id, index);
        let arguments = call_arguments(call);
        self.emit(
            events,
            "response.output_item.added",
            json!({"output_index": index, "item": function_call_item(&id, call, "in_progress", "")}),
        );
        self.emit(
            events,
            "response.function_call_arguments.delta",
            json!({"item_id": id, "output_index": index, "delta": arguments}),
        );
        self.emit(
            events,
            "response.function_call_arguments.done",
            json!({"item_id": id, "output_index": index, "arguments": arguments}),
        );
        let item = function_call_item(&id, call, "completed", arguments);
        self.emit(
            events,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
        self.output.push(item);
    }

    /// Appends event `kind` with `fields`, numbered.
    fn emit(&mut self, events: &mut Vec<Value>, kind: &str, fields: Value) {
        let mut event = Map::new();
        event.insert("type".into(), json!(kind));
        event.insert("sequence_number".into(), json!(self.sequence));
        if let Value::Object(fields) = fields {
            event.extend(fields);
        }
        self.sequence += 1;
        events.push(Value::Object(event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "resp_s";

    fn chunk(delta: Value, finish_reason: Value) -> Value {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "system_fingerprint": null,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}], "usage": null})
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    #[test]
    fn text_is_streamed_as_it_comes() {
        let mut t = ResponsesStreamTranslator::new(&json!({"model": "m"}), ID, 7);
        let first = t.push(&chunk(
            json!({"role": "assistant", "content": "Hel"}),
            Value::Null,
        ));
        assert_eq!(
            kinds(&first),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta"
            ]
        );
        assert_eq!(first[0]["response"]["status"], json!("in_progress"));
        assert_eq!(first[0]["response"]["output"], json!([]));
        let msg = item_id("msg_", ID, 0);
        assert_eq!(
            first[2],
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0,
                   "item": {"id": msg, "type": "message", "status": "in_progress", "role": "assistant", "content": []}})
        );
        assert_eq!(
            first[4],
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": msg,
                   "output_index": 0, "content_index": 0, "delta": "Hel", "logprobs": []})
        );
        let second = t.push(&chunk(json!({"content": "lo"}), Value::Null));
        assert_eq!(kinds(&second), ["response.output_text.delta"]);
        assert_eq!(second[0]["sequence_number"], json!(5));
        let closing = t.push(&chunk(json!({}), json!("length")));
        assert_eq!(
            kinds(&closing),
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done"
            ]
        );
        assert_eq!(closing[0]["text"], json!("Hello"));
        assert_eq!(closing[1]["part"], output_text("Hello", &[]));
        assert_eq!(closing[2]["item"]["status"], json!("incomplete"));
        let end = t.finish();
        assert_eq!(kinds(&end), ["response.incomplete"]);
        assert_eq!(end[0]["sequence_number"], json!(9));
        assert_eq!(
            end[0]["response"]["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(end[0]["response"]["usage"], Value::Null);
        assert!(t.finish().is_empty());
        assert!(
            t.push(&chunk(json!({"content": "late"}), Value::Null))
                .is_empty()
        );
    }

    #[test]
    fn a_late_signature_lands_on_the_final_message() {
        let mut t = ResponsesStreamTranslator::new(&json!({}), ID, 7);
        t.push(&chunk(json!({"content": "Hi"}), Value::Null));
        let call = json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}});
        t.push(&chunk(json!({"tool_calls": [call]}), Value::Null));
        let signed = json!({"google": {"thought_signature": "c2ln"}});
        assert!(
            t.push(&chunk(json!({"extra_content": signed}), Value::Null))
                .is_empty()
        );
        let end = t.finish();
        let output = &end[0]["response"]["output"];
        assert_eq!(output[0]["extra_content"], signed);
        assert!(output[1].get("extra_content").is_none());
    }

    #[test]
    fn an_empty_stream_still_completes() {
        let mut t = ResponsesStreamTranslator::new(&json!({}), ID, 7);
        let events = t.finish();
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.completed"
            ]
        );
        assert_eq!(events[2]["response"]["output"], json!([]));
    }

    #[test]
    fn odd_chunks_do_not_panic() {
        let mut t = ResponsesStreamTranslator::new(&json!(null), ID, 7);
        for odd in [
            json!(null),
            json!([]),
            json!({"choices": "x"}),
            json!({"choices": [null, {"index": 0, "delta": 5}]}),
            json!({"choices": [{"index": 0, "delta": {"content": 1, "tool_calls": [null, 3]}}]}),
            json!({"choices": [{"index": 1, "delta": {"content": "other choice"}}]}),
            json!({"usage": "x"}),
        ] {
            for event in t.push(&odd) {
                assert!(event["type"].is_string());
            }
        }
        let end = t.finish();
        assert_eq!(end.last().unwrap()["type"], json!("response.completed"));
    }
}
