//! The Responses API over real HTTP: the answer's shape, the event stream,
//! tool calls continued with `previous_response_id`, stored responses
//! (`store`, GET, DELETE, `input_items`), OpenAI's errors, and the
//! request-inspection endpoint.

use std::time::{Duration, Instant};

use airlock_mock::{MockConfig, RunningMock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::http::{client, json_of, mock, openai, start};

async fn create(m: &RunningMock, body: &Value) -> (StatusCode, Value) {
    json_of(openai(m, "responses", "k", body).await).await
}

/// A request to `path` under the OpenAI root, without a body.
async fn call(m: &RunningMock, method: Method, path: &str) -> (StatusCode, Value) {
    let r = client()
        .request(method, format!("{}/{path}", m.openai_base_url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap();
    json_of(r).await
}

fn ask(input: Value) -> Value {
    json!({"model": "gpt-4o-mini", "input": input})
}

fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().unwrap())
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// The `(event name, data)` pairs of a response stream.
fn events(body: &str) -> Vec<(String, Value)> {
    assert!(body.ends_with("\n\n"), "{body}");
    body.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("two lines");
            let name = name.strip_prefix("event: ").expect("event: line");
            let data = data.strip_prefix("data: ").expect("data: line");
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

fn assert_error(got: &(StatusCode, Value), status: u16, message: &str, param: Value, code: Value) {
    let (s, v) = got;
    assert_eq!(s.as_u16(), status, "{v}");
    assert_eq!(v["error"]["message"], message, "{v}");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["param"], param);
    assert_eq!(v["error"]["code"], code);
}

fn weather_tool() -> Value {
    json!({
        "type": "function",
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city", "unit"],
            "additionalProperties": false
        },
        "strict": true
    })
}

#[tokio::test]
async fn a_plain_answer_has_the_sdk_shape() {
    let m = mock().await;
    let r = openai(&m, "responses", "k", &ask(json!("hello"))).await;
    assert!(r.headers().contains_key("x-request-id"));
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("resp_") && id.len() == 5 + 48, "{id}");
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert!(v["created_at"].as_u64().unwrap() > 1_700_000_000);
    assert!(v["error"].is_null() && v["incomplete_details"].is_null());
    assert_eq!(v["model"], "gpt-4o-mini-2024-07-18");
    assert_eq!(v["store"], true);
    assert_eq!(v["parallel_tool_calls"], true);
    assert_eq!(v["tool_choice"], "auto");
    assert_eq!(v["tools"], json!([]));
    assert_eq!(v["text"]["format"], json!({"type": "text"}));
    assert_eq!(v["reasoning"], json!({"effort": null, "summary": null}));
    assert_eq!(v["metadata"], json!({}));
    assert!(v["previous_response_id"].is_null() && v["instructions"].is_null());
    let item = &v["output"][0];
    assert_eq!(v["output"].as_array().unwrap().len(), 1);
    assert!(item["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(
        (&item["type"], &item["role"], &item["status"]),
        (&json!("message"), &json!("assistant"), &json!("completed"))
    );
    let part = &item["content"][0];
    assert_eq!(part["type"], "output_text");
    assert_eq!(part["annotations"], json!([]));
    assert_eq!(part["logprobs"], json!([]));
    let text = part["text"].as_str().unwrap();
    assert!(!text.is_empty());
    let usage = &v["usage"];
    assert_eq!(usage["input_tokens"], 2);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 0);
    assert_eq!(
        usage["output_tokens"].as_u64().unwrap(),
        (text.chars().count() as u64).div_ceil(4)
    );
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["input_tokens"].as_u64().unwrap() + usage["output_tokens"].as_u64().unwrap()
    );

    // The same input gets the same answer, under a new id; settings echo.
    let mut again = ask(json!([{"role": "user", "content": "hello"}]));
    again["instructions"] = json!("Be brief.");
    again["metadata"] = json!({"trace": "t1"});
    again["temperature"] = json!(0.3);
    let (_, w) = create(&m, &again).await;
    assert_ne!(w["id"], v["id"]);
    assert_eq!(w["instructions"], "Be brief.");
    assert_eq!(w["metadata"], json!({"trace": "t1"}));
    assert_eq!(w["temperature"], 0.3);
    assert_eq!(w["usage"]["input_tokens"], 2 + 3);
    let (_, x) = create(&m, &ask(json!("hello"))).await;
    assert_eq!(output_text(&x), text);
    m.shutdown().await;
}

#[tokio::test]
async fn a_streamed_answer_sends_the_events_in_order() {
    let m = mock().await;
    let (_, whole) = create(&m, &ask(json!("tell me something"))).await;
    let mut req = ask(json!("tell me something"));
    req["stream"] = json!(true);
    let started = Instant::now();
    let r = client()
        .post(format!("{}/responses", m.openai_base_url()))
        .bearer_auth("k")
        .header("x-mock-latency", "first-token-ms=60,per-chunk-ms=15")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let body = r.text().await.unwrap();
    let elapsed = started.elapsed();
    let events = events(&body);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i, "{name}");
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        names[names.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(deltas.len(), names.len() - 8);
    assert!((3..=8).contains(&deltas.len()), "{}", deltas.len());
    let item_id = &events[2].1["item"]["id"];
    assert!(deltas.iter().all(|d| &d["item_id"] == item_id
        && d["output_index"] == 0
        && d["content_index"] == 0
        && d["logprobs"] == json!([])));
    let streamed: String = deltas
        .iter()
        .map(|d| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, output_text(&whole));
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert!(created["usage"].is_null());
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["id"], created["id"]);
    assert_eq!(output_text(done), streamed);
    assert_eq!(done["usage"], whole["usage"]);
    assert_eq!(events[events.len() - 4].1["text"], streamed.as_str());
    // One delivery chunk per delta: the first after 60 ms, the others 15 ms apart.
    let least = Duration::from_millis(60 + 15 * (deltas.len() as u64 - 1));
    assert!(elapsed >= least, "{elapsed:?} < {least:?}");
    // The streamed response was stored like any other.
    let (status, stored) = call(
        &m,
        Method::GET,
        &format!("responses/{}", done["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(&stored, done);
    m.shutdown().await;
}

#[tokio::test]
async fn a_function_call_then_its_output_continues_the_response() {
    let m = mock().await;
    let mut req = ask(json!("What is the weather in Paris? Use get_weather."));
    req["tools"] = json!([weather_tool()]);
    let (status, first) = create(&m, &req).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "completed");
    let call_item = &first["output"][0];
    assert_eq!(call_item["type"], "function_call");
    assert!(call_item["id"].as_str().unwrap().starts_with("fc_"));
    assert!(call_item["call_id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call_item["name"], "get_weather");
    assert_eq!(call_item["status"], "completed");
    let args: Value = serde_json::from_str(call_item["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string());
    assert!(["celsius", "fahrenheit"].contains(&args["unit"].as_str().unwrap()));
    assert_eq!(first["tools"][0]["strict"], true);

    // Streamed, the same call arrives as argument deltas.
    req["stream"] = json!(true);
    let body = openai(&m, "responses", "k", &req)
        .await
        .text()
        .await
        .unwrap();
    let events = events(&body);
    let added = &events[2].1["item"];
    assert_eq!(
        (&added["type"], &added["arguments"], &added["status"]),
        (&json!("function_call"), &json!(""), &json!("in_progress"))
    );
    let streamed: String = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    let done = events
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(done.1["arguments"], streamed.as_str());
    assert_eq!(streamed, call_item["arguments"].as_str().unwrap());

    // The output continues the stored conversation.
    let follow = json!({
        "model": "gpt-4o-mini",
        "previous_response_id": first["id"],
        "tools": [weather_tool()],
        "input": [{"type": "function_call_output", "call_id": call_item["call_id"], "output": "{\"temperature\": 21}"}]
    });
    let (status, second) = create(&m, &follow).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["previous_response_id"], first["id"]);
    assert_eq!(second["output"][0]["type"], "message");
    assert!(!output_text(&second).is_empty());
    // Earlier input and output are read again as input.
    let tool_tokens = (weather_tool().to_string().len() as u64).div_ceil(4);
    let earlier = first["usage"]["input_tokens"].as_u64().unwrap() - tool_tokens
        + first["usage"]["output_tokens"].as_u64().unwrap();
    assert_eq!(
        second["usage"]["input_tokens"].as_u64().unwrap(),
        tool_tokens + earlier + 5
    );

    // A new message instead of the output is refused, as OpenAI does.
    let unanswered =
        json!({"model": "gpt-4o-mini", "previous_response_id": first["id"], "input": "never mind"});
    assert_error(
        &create(&m, &unanswered).await,
        400,
        &format!(
            "No tool output found for function call {}.",
            call_item["call_id"].as_str().unwrap()
        ),
        json!("input"),
        Value::Null,
    );
    m.shutdown().await;
}

#[tokio::test]
async fn a_mismatched_function_call_output_is_refused() {
    let m = mock().await;
    let req = ask(json!([
        {"role": "user", "content": "hi"},
        {"type": "function_call_output", "call_id": "call_nope", "output": "42"}
    ]));
    assert_error(
        &create(&m, &req).await,
        400,
        "No tool call found for function call output with call_id call_nope.",
        json!("input"),
        Value::Null,
    );
    let paired = ask(json!([
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "call_yes", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_yes", "output": "42"}
    ]));
    assert_eq!(create(&m, &paired).await.0, 200);
    m.shutdown().await;
}

#[tokio::test]
async fn store_false_keeps_nothing() {
    let m = mock().await;
    let mut req = ask(json!("remember nothing"));
    req["store"] = json!(false);
    let (status, v) = create(&m, &req).await;
    assert_eq!(status, 200);
    assert_eq!(v["store"], false);
    let id = v["id"].as_str().unwrap();
    let mut next = ask(json!("and then?"));
    next["previous_response_id"] = json!(id);
    assert_error(
        &create(&m, &next).await,
        400,
        &format!("Previous response with id '{id}' not found."),
        json!("previous_response_id"),
        json!("previous_response_not_found"),
    );
    assert_error(
        &call(&m, Method::GET, &format!("responses/{id}")).await,
        404,
        &format!("Response with id '{id}' not found."),
        Value::Null,
        Value::Null,
    );
    m.shutdown().await;
}

#[tokio::test]
async fn stored_responses_can_be_read_listed_and_deleted() {
    let m = mock().await;
    let req = ask(json!([
        {"role": "developer", "content": "Be kind."},
        {"role": "user", "content": [{"type": "input_text", "text": "first"}]},
        {"role": "assistant", "content": "noted"},
        {"role": "user", "content": "second"}
    ]));
    let (_, created) = create(&m, &req).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, got) = call(&m, Method::GET, &format!("responses/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, created);

    let (status, list) = call(&m, Method::GET, &format!("responses/{id}/input_items")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    // Newest first by default; every item has an id and parts.
    assert_eq!(
        data[0]["content"],
        json!([{"type": "input_text", "text": "second"}])
    );
    assert_eq!(data[1]["content"][0]["type"], "output_text");
    assert_eq!(data[3]["role"], "developer");
    assert!(
        data.iter()
            .all(|i| i["id"].as_str().unwrap().starts_with("msg_")
                && i["type"] == "message"
                && i["status"] == "completed")
    );
    assert_eq!(list["first_id"], data[0]["id"]);
    assert_eq!(list["last_id"], data[3]["id"]);

    let (_, page) = call(
        &m,
        Method::GET,
        &format!("responses/{id}/input_items?limit=3&order=asc"),
    )
    .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["data"][0]["role"], "developer");
    assert_eq!(page["has_more"], true);
    let (_, rest) = call(
        &m,
        Method::GET,
        &format!(
            "responses/{id}/input_items?order=asc&after={}",
            page["last_id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert_eq!(rest["data"][0]["id"], data[0]["id"]);
    assert_eq!(rest["has_more"], false);
    assert_error(
        &call(
            &m,
            Method::GET,
            &format!("responses/{id}/input_items?limit=101"),
        )
        .await,
        400,
        "Invalid 'limit': integer above maximum value. Expected a value <= 100, but got 101 instead.",
        json!("limit"),
        json!("integer_above_max_value"),
    );

    let (status, deleted) = call(&m, Method::DELETE, &format!("responses/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": id, "object": "response.deleted", "deleted": true})
    );
    let missing = format!("Response with id '{id}' not found.");
    for (method, path) in [
        (Method::GET, format!("responses/{id}")),
        (Method::DELETE, format!("responses/{id}")),
        (Method::GET, format!("responses/{id}/input_items")),
    ] {
        assert_error(
            &call(&m, method, &path).await,
            404,
            &missing,
            Value::Null,
            Value::Null,
        );
    }
    m.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_and_bad_requests_are_refused_like_openai() {
    let m = mock().await;
    let mut req = ask(json!("x"));
    req["foo"] = json!(1);
    assert_error(
        &create(&m, &req).await,
        400,
        "Unknown parameter: 'foo'.",
        json!("foo"),
        json!("unknown_parameter"),
    );
    assert_error(
        &create(
            &m,
            &ask(json!([{"role": "user", "content": "x", "name": "n"}])),
        )
        .await,
        400,
        "Unknown parameter: 'input[0].name'.",
        json!("input[0].name"),
        json!("unknown_parameter"),
    );
    assert_error(
        &create(&m, &json!({"input": "x"})).await,
        400,
        "Missing required parameter: 'model'.",
        json!("model"),
        json!("missing_required_parameter"),
    );
    let mut meta = ask(json!("x"));
    meta["metadata"] = Value::Object((0..17).map(|i| (format!("k{i}"), json!("v"))).collect());
    assert_error(
        &create(&m, &meta).await,
        400,
        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.",
        json!("metadata"),
        json!("object_above_max_properties"),
    );
    let mut reasoning = ask(json!("x"));
    reasoning["reasoning"] = json!({"effort": "low"});
    assert_error(
        &create(&m, &reasoning).await,
        400,
        "Unsupported parameter: 'reasoning.effort' is not supported with this model.",
        json!("reasoning.effort"),
        json!("unsupported_parameter"),
    );
    reasoning["model"] = json!("o4-mini");
    let (status, v) = create(&m, &reasoning).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["reasoning"], json!({"effort": "low", "summary": null}));
    assert_error(
        &create(&m, &json!({"model": "gpt-9", "input": "x"})).await,
        404,
        "The model `gpt-9` does not exist or you do not have access to it.",
        Value::Null,
        json!("model_not_found"),
    );
    let (status, _) = create(
        &m,
        &json!({"model": "text-embedding-3-small", "input": "x"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, v) = call(&m, Method::GET, "responses").await;
    assert_eq!(status, 405);
    assert_eq!(
        v["error"]["message"],
        "Invalid method for URL (GET /v1/responses)"
    );
    let (status, _) = call(&m, Method::PUT, "responses/resp_1").await;
    assert_eq!(status, 405);
    let (status, _) = call(&m, Method::GET, "responses/resp_1/other").await;
    assert_eq!(status, 404);
    let r = client()
        .post(format!("{}/responses", m.openai_base_url()))
        .bearer_auth("k")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We could not parse the JSON body")
    );
    m.shutdown().await;
}

#[tokio::test]
async fn output_limits_are_checked_and_cut_the_text() {
    let m = mock().await;
    let mut req = ask(json!("hello"));
    req["max_output_tokens"] = json!(10);
    assert_error(
        &create(&m, &req).await,
        400,
        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 10 instead.",
        json!("max_output_tokens"),
        json!("integer_below_min_value"),
    );
    req["max_output_tokens"] = json!(16);
    let (status, v) = create(&m, &req).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "incomplete");
    assert_eq!(
        v["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(v["max_output_tokens"], 16);
    assert_eq!(v["output"][0]["status"], "incomplete");
    assert_eq!(v["usage"]["output_tokens"], 16);
    assert_eq!(output_text(&v).chars().count(), 64);
    req["stream"] = json!(true);
    let body = openai(&m, "responses", "k", &req)
        .await
        .text()
        .await
        .unwrap();
    let (last, data) = events(&body).pop().unwrap();
    assert_eq!(last, "response.incomplete");
    assert_eq!(data["response"]["status"], "incomplete");
    m.shutdown().await;
}

#[tokio::test]
async fn json_schema_answers_validate() {
    let m = mock().await;
    let mut req = ask(json!("give me a record"));
    req["text"] = json!({"format": {"type": "json_schema", "name": "record", "strict": true, "schema": {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "score": {"type": "integer", "minimum": 1, "maximum": 5}
        },
        "required": ["tags", "score"],
        "additionalProperties": false
    }}});
    let (status, v) = create(&m, &req).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["text"]["format"]["name"], "record");
    let doc: Value = serde_json::from_str(&output_text(&v)).unwrap();
    assert!(doc["tags"].as_array().unwrap().len() >= 2);
    assert!((1..=5).contains(&doc["score"].as_i64().unwrap()));
    assert_eq!(doc.as_object().unwrap().len(), 2);

    req["text"] = json!({"format": {"type": "json_object"}});
    assert_error(
        &create(&m, &req).await,
        400,
        "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.",
        json!("input"),
        Value::Null,
    );
    req["input"] = json!("answer in JSON");
    let (_, v) = create(&m, &req).await;
    assert!(
        serde_json::from_str::<Value>(&output_text(&v))
            .unwrap()
            .is_object()
    );
    m.shutdown().await;
}

#[tokio::test]
async fn the_inspection_endpoint_shows_recent_bodies() {
    let m = start(MockConfig::default()).await;
    let chat = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
    openai(&m, "chat/completions", "k", &chat).await;
    let body = ask(json!("inspect me"));
    openai(&m, "responses", "k", &body).await;
    let url = format!("http://{}/mock/requests", m.addr);
    let got: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        got,
        json!({"data": [
            {"method": "POST", "path": "/v1/chat/completions", "body": chat},
            {"method": "POST", "path": "/v1/responses", "body": body}
        ]})
    );
    let received = m.server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].path, "/v1/responses");
    assert_eq!(received[1].body, body);
    // GETs and the inspection itself are not recorded, and nothing is counted.
    let seen = m.server.requests_seen();
    call(&m, Method::GET, "models").await;
    assert_eq!(m.server.received().len(), 2);
    let r = client().delete(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"deleted": 2}));
    assert_eq!(m.server.requests_seen(), seen + 1);
    let got: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got, json!({"data": []}));
    m.server.clear_received();
    assert!(m.server.received().is_empty());
    m.shutdown().await;
}
