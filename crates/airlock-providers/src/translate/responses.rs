//! OpenAI Responses API ⇄ Gemini, by way of the Chat Completions
//! translation, for Responses clients that ask Airlock for a Gemini model.
//! Pure functions over `serde_json::Value`, no I/O. The gateway's
//! `dispatch/responses.rs` runs, for a Gemini route:
//!
//! 1. [`responses_request_to_gemini`] on the Responses body (whose `input`
//!    the gateway has already filled with the conversation's history):
//!    [`responses_request_to_chat`], then
//!    [`chat_request_to_gemini`](super::chat_request_to_gemini) on the
//!    result, then the web search tool as Google Search;
//! 2. for a complete answer, [`gemini_response_to_responses`]
//!    ([`gemini_response_to_chat`](super::gemini_response_to_chat), the
//!    chat completion to a response, and the grounding to a web search item
//!    and citations);
//! 3. for a stream, each Gemini chunk through
//!    [`ResponsesStreamTranslator::read_gemini`] (its grounding) and a
//!    [`ChatStreamTranslator`](super::ChatStreamTranslator), and each chat
//!    chunk it makes through a [`ResponsesStreamTranslator`]; at the end,
//!    the chat translator's `finish` chunks through `push`, then
//!    [`ResponsesStreamTranslator::finish`].
//!
//! Gemini 3 thought signatures survive the round trip: a signed call
//! becomes a `function_call` item carrying
//! `extra_content.google.thought_signature` (a text answer's signature is
//! on its `message` item), and a later turn that replays the items as its
//! input gives the signature back to the chat translation, which restores
//! it on the Gemini part.

#[path = "responses_object.rs"]
mod object;
#[path = "responses_request.rs"]
mod request;
#[path = "responses_search.rs"]
mod search;
#[path = "responses_stream.rs"]
mod stream;

pub use object::{chat_response_to_responses, gemini_response_to_responses};
pub use request::{responses_request_to_chat, responses_request_to_gemini};
pub use stream::ResponsesStreamTranslator;

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::translate::ChatStreamTranslator;

    const MODEL: &str = "gemini-3-flash-preview";

    /// A Responses request all the way to the Gemini body.
    fn to_gemini(request: &Value) -> crate::translate::GeminiChatRequest {
        responses_request_to_gemini(request, MODEL).unwrap()
    }

    /// A complete Gemini answer all the way to the response object.
    fn answer(gemini: &Value, request: &Value, id: &str) -> Value {
        gemini_response_to_responses(gemini, request, MODEL, id, 9)
    }

    /// A Gemini stream all the way to Responses events.
    fn stream(chunks: &[Value], request: &Value, id: &str) -> Vec<Value> {
        let include_usage = to_gemini(request).include_usage;
        let mut chat = ChatStreamTranslator::new(MODEL, id, 9, include_usage);
        let mut responses = ResponsesStreamTranslator::new(request, id, 9);
        let mut events = Vec::new();
        for chunk in chunks {
            responses.read_gemini(chunk);
            for chat_chunk in chat.push(chunk) {
                events.extend(responses.push(&chat_chunk));
            }
        }
        for chat_chunk in chat.finish() {
            events.extend(responses.push(&chat_chunk));
        }
        events.extend(responses.finish());
        events
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect()
    }

    fn weather_tool() -> Value {
        json!([{"type": "function", "name": "weather", "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                "strict": true}])
    }

    #[test]
    fn a_tool_conversation_keeps_its_thought_signature_across_turns() {
        let first = json!({"model": MODEL, "input": "Weather in Paris?", "tools": weather_tool(), "store": true});
        let gemini_first = to_gemini(&first);
        assert_eq!(
            gemini_first.body["tools"],
            json!([{"functionDeclarations": [{"name": "weather", "description": "Current weather",
                "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}])
        );
        let response = answer(
            &json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTE="}
            ]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 5, "thoughtsTokenCount": 7, "totalTokenCount": 32}}),
            &first,
            "resp_1",
        );
        let call = &response["output"][0];
        assert_eq!(call["type"], json!("function_call"));
        assert_eq!(call["name"], json!("weather"));
        assert_eq!(call["arguments"], json!("{\"city\":\"Paris\"}"));
        assert_eq!(
            call["extra_content"],
            json!({"google": {"thought_signature": "c2lnLTE="}})
        );
        assert_eq!(
            response["usage"],
            json!({"input_tokens": 20, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                   "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 7}, "total_tokens": 32})
        );
        let call_id = call["call_id"].as_str().unwrap_or_default().to_owned();

        // The next turn replays the first one's items verbatim (as stored
        // JSON), then answers the call.
        let stored: Value = serde_json::from_str(&response["output"].to_string()).unwrap();
        let mut input =
            vec![json!({"type": "message", "role": "user", "content": "Weather in Paris?"})];
        input.extend(stored.as_array().cloned().unwrap_or_default());
        input.push(
            json!({"type": "function_call_output", "call_id": call_id, "output": "{\"temp\": 21}"}),
        );
        let second = json!({"model": MODEL, "input": input, "tools": weather_tool()});
        assert_eq!(
            to_gemini(&second).body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
                {"role": "model", "parts": [
                    {"functionCall": {"id": call_id, "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTE="}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"id": call_id, "name": "weather", "response": {"result": {"temp": 21}}}}
                ]}
            ])
        );
    }

    #[test]
    fn a_text_answer_signature_comes_back_on_its_text() {
        let request = json!({"model": MODEL, "input": "Hi"});
        let response = answer(
            &json!({"candidates": [{"content": {"parts": [{"text": "Hello", "thoughtSignature": "dGV4dA=="}]}, "finishReason": "STOP"}]}),
            &request,
            "resp_2",
        );
        let mut input = vec![json!({"role": "user", "content": "Hi"})];
        input.extend(response["output"].as_array().cloned().unwrap_or_default());
        input.push(json!({"role": "user", "content": "And?"}));
        assert_eq!(
            to_gemini(&json!({"model": MODEL, "input": input})).body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Hi"}]},
                {"role": "model", "parts": [{"text": "Hello", "thoughtSignature": "dGV4dA=="}]},
                {"role": "user", "parts": [{"text": "And?"}]}
            ])
        );
    }

    #[test]
    fn the_request_reaches_gemini_with_its_settings() {
        let request = json!({
            "model": MODEL, "instructions": "Answer in JSON.", "input": "Weather?", "tools": weather_tool(),
            "tool_choice": {"type": "function", "name": "weather"}, "max_output_tokens": 64, "temperature": 0.3,
            "reasoning": {"effort": "high"}, "text": {"format": {"type": "json_object"}}, "stream": true
        });
        let gemini = to_gemini(&request);
        assert!(gemini.stream && gemini.include_usage);
        assert_eq!(
            gemini.body["systemInstruction"],
            json!({"parts": [{"text": "Answer in JSON."}]})
        );
        assert_eq!(
            gemini.body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}})
        );
        assert_eq!(
            gemini.body["generationConfig"],
            json!({"temperature": 0.3, "maxOutputTokens": 64, "responseMimeType": "application/json",
                   "thinkingConfig": {"thinkingLevel": "HIGH"}})
        );
    }

    #[test]
    fn a_streamed_text_answer() {
        let request = json!({"model": MODEL, "input": "Hi", "stream": true});
        let usage = json!({"promptTokenCount": 3, "candidatesTokenCount": 3, "totalTokenCount": 6});
        let chunks = [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "lo "}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "there"}]}, "finishReason": "STOP"}],
                   "usageMetadata": usage}),
        ];
        let events = stream(&chunks, &request, "resp_3");
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        for (number, event) in events.iter().enumerate() {
            assert_eq!(event["sequence_number"], json!(number));
        }
        let deltas: Vec<&Value> = events
            .iter()
            .map(|e| &e["delta"])
            .filter(|d| d.is_string())
            .collect();
        assert_eq!(deltas, [&json!("Hel"), &json!("lo "), &json!("there")]);
        assert_eq!(events[7]["text"], json!("Hello there"));

        let complete = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello there"}]}, "finishReason": "STOP"}],
                              "usageMetadata": usage});
        let final_response = &events[10]["response"];
        assert_eq!(final_response, &answer(&complete, &request, "resp_3"));
        assert_eq!(final_response["output"][0], events[9]["item"]);
        assert_eq!(final_response["usage"]["total_tokens"], json!(6));
    }

    #[test]
    fn deltas_leave_as_soon_as_they_arrive() {
        let request = json!({"model": MODEL, "input": "Hi", "stream": true});
        let mut chat = ChatStreamTranslator::new(MODEL, "chatcmpl-1", 9, true);
        let mut responses = ResponsesStreamTranslator::new(&request, "resp_4", 9);
        for piece in ["a", "b", "c"] {
            let chunk = json!({"candidates": [{"content": {"parts": [{"text": piece}]}}]});
            let events: Vec<Value> = chat
                .push(&chunk)
                .iter()
                .flat_map(|c| responses.push(c))
                .collect();
            assert_eq!(
                events.last().map(|e| (&e["type"], &e["delta"])),
                Some((&json!("response.output_text.delta"), &json!(piece)))
            );
        }
    }

    #[test]
    fn a_streamed_tool_call() {
        let request = json!({"model": MODEL, "input": "Weather in Paris?", "tools": weather_tool(), "stream": true});
        let chunks = [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Checking."}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTI="}
            ]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}}),
        ];
        let events = stream(&chunks, &request, "resp_5");
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let added = &events[8]["item"];
        assert_eq!(added["type"], json!("function_call"));
        assert_eq!(added["status"], json!("in_progress"));
        assert_eq!(added["arguments"], json!(""));
        assert_eq!(events[8]["output_index"], json!(1));
        assert_eq!(events[9]["delta"], json!("{\"city\":\"Paris\"}"));
        assert_eq!(events[10]["arguments"], json!("{\"city\":\"Paris\"}"));
        let done = &events[11]["item"];
        assert_eq!(done["status"], json!("completed"));
        assert_eq!(
            done["extra_content"],
            json!({"google": {"thought_signature": "c2lnLTI="}})
        );
        assert_eq!(done["call_id"], added["call_id"]);
        assert_eq!(done["id"], added["id"]);

        let complete = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Checking."},
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLTI="}
        ]}, "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}});
        assert_eq!(
            events[12]["response"],
            answer(&complete, &request, "resp_5"),
            "streamed and complete answers agree"
        );
    }

    fn grounded(text: &str) -> Value {
        let second = text.find("Ils").unwrap_or_default();
        json!({"webSearchQueries": ["euro 2024 winner"],
               "searchEntryPoint": {"renderedContent": "<div></div>"},
               "groundingChunks": [{"web": {"uri": "https://r.example/1", "title": "uefa.com"}},
                                   {"web": {"uri": "https://r.example/2", "title": "bbc.com"}}],
               "groundingSupports": [
                   {"segment": {"endIndex": second - 1, "text": &text[..second - 1]}, "groundingChunkIndices": [0]},
                   {"segment": {"startIndex": second, "endIndex": text.len(), "text": &text[second..]},
                    "groundingChunkIndices": [1]}]})
    }

    #[test]
    fn a_grounded_answer_searches_first_and_cites_in_characters() {
        let text = "On “euro”: l'Espagne a gagné. Ils ont battu l'Angleterre.";
        let request = json!({"model": MODEL, "input": "Qui a gagné l'Euro 2024 ?",
                             "tools": [{"type": "web_search"}], "stream": true});
        assert_eq!(
            to_gemini(&request).body["tools"],
            json!([{"googleSearch": {}}])
        );
        let usage =
            json!({"promptTokenCount": 8, "candidatesTokenCount": 14, "totalTokenCount": 22});
        let complete = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": "STOP", "groundingMetadata": grounded(text)}], "usageMetadata": usage});
        let response = answer(&complete, &request, "resp_g");
        let output = response["output"].as_array().unwrap();
        assert_eq!(
            output[0],
            json!({"id": output[0]["id"], "type": "web_search_call", "status": "completed",
                   "action": {"type": "search", "query": "euro 2024 winner", "queries": ["euro 2024 winner"]}})
        );
        assert!(output[0]["id"].as_str().unwrap().starts_with("ws_"));
        assert_eq!(output[1]["type"], json!("message"));
        let annotations = output[1]["content"][0]["annotations"].as_array().unwrap();
        let chars: Vec<char> = text.chars().collect();
        let cited: Vec<String> = annotations
            .iter()
            .map(|a| {
                let (start, end) = (
                    a["start_index"].as_u64().unwrap() as usize,
                    a["end_index"].as_u64().unwrap() as usize,
                );
                chars[start..end].iter().collect()
            })
            .collect();
        assert_eq!(
            cited,
            [
                "On “euro”: l'Espagne a gagné.",
                "Ils ont battu l'Angleterre."
            ]
        );
        assert_eq!(annotations[1]["url"], json!("https://r.example/2"));
        assert_eq!(annotations[1]["title"], json!("bbc.com"));

        let (first, rest) = text.split_at(text.find("Ils").unwrap());
        let chunks = [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": first}]}}]}),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": rest}]}, "finishReason": "STOP",
                   "groundingMetadata": grounded(text)}], "usageMetadata": usage}),
        ];
        let events = stream(&chunks, &request, "resp_g");
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.web_search_call.in_progress",
                "response.web_search_call.searching",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.web_search_call.completed",
                "response.output_item.done",
                "response.output_text.annotation.added",
                "response.output_text.annotation.added",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(events[2]["item"]["status"], json!("in_progress"));
        assert_eq!(events[5]["output_index"], json!(1));
        assert_eq!(events[10]["item"], output[0]);
        assert_eq!(events[12]["annotation"], annotations[1]);
        assert_eq!(events[12]["annotation_index"], json!(1));
        assert_eq!(events[14]["part"], output[1]["content"][0]);
        assert_eq!(
            events[16]["response"], response,
            "streamed and complete answers agree"
        );
    }

    #[test]
    fn an_answer_without_a_search_still_closes_the_search_item() {
        let request = json!({"model": MODEL, "input": "Hi", "tools": [{"type": "web_search_preview"}], "stream": true});
        let chunks = [
            json!({"candidates": [{"content": {"parts": [{"text": "Hello."}]}, "finishReason": "STOP"}]}),
        ];
        let events = stream(&chunks, &request, "resp_n");
        let last = &events.last().unwrap()["response"];
        assert_eq!(
            last["output"][0]["action"],
            json!({"type": "search", "queries": []})
        );
        assert_eq!(last["output"][1]["content"][0]["annotations"], json!([]));
        assert_eq!(
            last["output"],
            answer(&chunks[0], &request, "resp_n")["output"]
        );
    }

    #[test]
    fn a_blocked_stream_is_incomplete() {
        let request = json!({"model": MODEL, "input": "x", "stream": true});
        let events = stream(
            &[
                json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}),
            ],
            &request,
            "resp_6",
        );
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.incomplete"
            ]
        );
        let response = &events[2]["response"];
        assert_eq!(
            response["incomplete_details"],
            json!({"reason": "content_filter"})
        );
        assert_eq!(response["usage"]["input_tokens"], json!(4));
    }
}
