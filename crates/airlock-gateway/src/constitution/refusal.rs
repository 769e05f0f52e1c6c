//! A held stream the constitution blocked, replaced by a refusal in the
//! client's stream protocol: what the provider itself streams when it
//! withholds an answer (OpenAI chat: a `refusal` delta with finish reason
//! `content_filter`; the Responses API: a response whose output is a
//! refusal; Gemini: a candidate ending `PROHIBITED_CONTENT` with its
//! `finishMessage`, as SSE or as Google's JSON array).

use airlock_providers::answer::responses_refusal_item;
use bytes::Bytes;
use serde_json::{Value, json};

/// The protocol a client's stream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamForm {
    OpenAiChat,
    Responses,
    GeminiSse,
    GeminiJsonArray,
}

/// The whole stream a client reads in place of a withheld answer to the
/// request `request_id` for `model`.
pub fn stream(form: StreamForm, request_id: &str, model: &str, message: &str) -> Bytes {
    let created = crate::clock::now_ms() / 1000;
    match form {
        StreamForm::OpenAiChat => {
            let chunk = json!({
                "id": format!("chatcmpl-{request_id}"),
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{
                    "index": 0,
                    "delta": {"role": "assistant", "content": null, "refusal": message},
                    "logprobs": null,
                    "finish_reason": "content_filter",
                }],
            });
            Bytes::from(format!("data: {chunk}\n\ndata: [DONE]\n\n"))
        }
        StreamForm::Responses => {
            let id = format!("resp_{request_id}");
            let response = |status: &str, output: Value| {
                json!({
                    "id": id, "object": "response", "created_at": created, "status": status,
                    "model": model, "output": output, "error": null, "incomplete_details": null,
                    "usage": null,
                })
            };
            let created_event = json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress", json!([]))});
            let output = json!([responses_refusal_item(&id, message)]);
            let completed = json!({"type": "response.completed", "sequence_number": 1, "response": response("completed", output)});
            Bytes::from(format!(
                "event: response.created\ndata: {created_event}\n\nevent: response.completed\ndata: {completed}\n\n"
            ))
        }
        StreamForm::GeminiSse => Bytes::from(format!(
            "data: {}\r\n\r\n",
            gemini_chunk(request_id, model, message)
        )),
        StreamForm::GeminiJsonArray => {
            Bytes::from(format!("[{}]", gemini_chunk(request_id, model, message)))
        }
    }
}

fn gemini_chunk(request_id: &str, model: &str, message: &str) -> Value {
    json!({
        "candidates": [{"finishReason": "PROHIBITED_CONTENT", "finishMessage": message, "index": 0}],
        "modelVersion": model,
        "responseId": request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_lines(stream: &Bytes) -> Vec<String> {
        std::str::from_utf8(stream)
            .unwrap()
            .lines()
            .filter_map(|line| line.strip_prefix("data: ").map(str::to_string))
            .collect()
    }

    #[test]
    fn each_form_is_a_whole_stream_that_refuses() {
        let chat = stream(StreamForm::OpenAiChat, "r1", "gpt-4o", "no");
        let lines = data_lines(&chat);
        assert_eq!(lines.last().unwrap(), "[DONE]");
        let chunk: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(chunk["choices"][0]["delta"]["refusal"], "no");
        assert_eq!(chunk["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(chunk["model"], "gpt-4o");

        let responses = stream(StreamForm::Responses, "r1", "gpt-4o", "no");
        let events: Vec<Value> = data_lines(&responses)
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(events[0]["type"], "response.created");
        assert_eq!(events[1]["type"], "response.completed");
        assert_eq!(
            events[1]["response"]["output"][0]["content"][0]["refusal"],
            "no"
        );

        let sse = stream(StreamForm::GeminiSse, "r1", "gemini-2.5-flash", "no");
        let chunk: Value = serde_json::from_str(&data_lines(&sse)[0]).unwrap();
        assert_eq!(chunk["candidates"][0]["finishReason"], "PROHIBITED_CONTENT");
        let array: Value =
            serde_json::from_slice(&stream(StreamForm::GeminiJsonArray, "r1", "m", "no")).unwrap();
        assert_eq!(array[0]["candidates"][0]["finishMessage"], "no");
    }
}
