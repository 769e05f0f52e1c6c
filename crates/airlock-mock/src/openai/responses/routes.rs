//! The Responses API's routes: creating a response (validated, answered by
//! the crate's answer rules on the continued conversation, stored unless
//! `store: false`), reading and deleting a stored one, and listing its
//! input items a page at a time.

use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http::Method;
use serde_json::{Map, Value, json};

use super::items::{self, Conversation};
use super::render::{self, Input, Reply};
use super::store::{Stored, Turn};
use super::{checks, params, search};
use crate::delivery::Payload;
use crate::gate::query_pairs;
use crate::openai::catalog::{self, Kind};
use crate::openai::routes::{read, success, with_openai_headers};
use crate::openai::{caching, errors, validate};
use crate::prng::Digest;
use crate::reply;
use crate::routes::Call;

/// What a path under `/v1/responses` names.
enum Route<'r> {
    Create,
    Response(&'r str),
    InputItems(&'r str),
}

/// `/v1/responses` (`rest` is `None`) and the paths below it.
pub async fn handle(call: &Call<'_>, rest: Option<&str>, body: Body) -> Payload {
    let route = match rest {
        None => Some(Route::Create),
        Some(rest) => match rest.split_once('/') {
            None if !rest.is_empty() => Some(Route::Response(rest)),
            Some((id, "input_items")) if !id.is_empty() => Some(Route::InputItems(id)),
            _ => None,
        },
    };
    let method = &call.parts.method;
    match route {
        None => errors::invalid_url(method.as_str(), call.parts.uri.path()),
        Some(Route::Create) if method == Method::POST => create(call, body).await,
        Some(Route::Response(id)) if method == Method::GET => retrieve(call, id),
        Some(Route::Response(id)) if method == Method::DELETE => delete(call, id),
        Some(Route::InputItems(id)) if method == Method::GET => input_items(call, id),
        Some(_) => errors::invalid_method(method.as_str(), call.parts.uri.path()),
    }
}

async fn create(call: &Call<'_>, body: Body) -> Payload {
    let body = match read(call, body).await {
        Ok(b) => b,
        Err(p) => return p,
    };
    if let Err(e) = validate::check_parameters(params::CREATE, &body) {
        return e.payload();
    }
    let name = body["model"].as_str().unwrap_or("");
    let Some(model) = catalog::find(name) else {
        return errors::model_not_found(name);
    };
    if !matches!(model.kind, Kind::Chat { .. }) {
        return errors::wrong_endpoint("v1/responses");
    }
    if let Err(e) = checks::check(&body, model) {
        return e.payload();
    }
    let conversation_id = body["conversation"]
        .as_str()
        .or_else(|| body["conversation"]["id"].as_str());
    if let Some(id) = conversation_id {
        return errors::conversation_not_found(id);
    }
    let store = call.server.responses();
    let previous = match body["previous_response_id"].as_str() {
        Some(id) => match store.get(id) {
            Some(stored) => Some(stored),
            None => return errors::previous_response_not_found(id),
        },
        None => None,
    };
    let ids = Digest::new(call.server.seed())
        .part("responses")
        .number(call.serial);
    let input = items::normalize(&body["input"], ids.part("input"));
    let mut context: Vec<&Value> = previous.as_ref().map_or_else(Vec::new, |p| p.turn.items());
    context.extend(&input);
    if let Err(e) = checks::pairing(&context) {
        return e.payload();
    }
    let conversation = Conversation {
        instructions: body["instructions"].as_str(),
        tools: &body["tools"],
        items: context,
    };
    let seed = call.server.seed();
    let ask = conversation.ask(&body, model, seed);
    let answered = search::run(
        &body,
        reply::answer(&ask, 0),
        ask.format,
        &ask.last_user_text,
        seed,
        ids,
    );
    let prompt = conversation.tokens();
    let cached = caching::cached_tokens(call.server, model, &prompt, |prefix| {
        conversation.read(prefix);
    });
    let reply = Reply::new(
        &body,
        model,
        answered,
        ids,
        ask.digest,
        Input {
            tokens: prompt.total(),
            cached,
        },
    );
    let finished = reply.finished();
    if body["store"] != json!(false) {
        let inputs = input.len();
        let mut own = input;
        own.extend(reply.output());
        store.insert(
            reply.id().to_owned(),
            Stored {
                response: Arc::new(finished.clone()),
                turn: Turn::new(previous.map(|p| p.turn), own),
                inputs,
            },
        );
    }
    if body["stream"] == json!(true) {
        let chunks: Vec<Bytes> = reply.events().iter().map(|g| render::sse(g)).collect();
        with_openai_headers(
            call,
            Payload::stream("text/event-stream; charset=utf-8", chunks, None),
        )
    } else {
        success(call, &finished).paced(reply.pieces().len())
    }
}

fn retrieve(call: &Call<'_>, id: &str) -> Payload {
    match call.server.responses().get(id) {
        Some(stored) => success(call, &stored.response),
        None => errors::response_not_found(id),
    }
}

fn delete(call: &Call<'_>, id: &str) -> Payload {
    if call.server.responses().remove(id) {
        success(
            call,
            &json!({ "id": id, "object": "response.deleted", "deleted": true }),
        )
    } else {
        errors::response_not_found(id)
    }
}

/// Default and largest page of `input_items`.
const DEFAULT_LIMIT: usize = 20;

/// `limit` (1..=100, default 20), `order` (`asc` or `desc`, the default)
/// and `after` (an item id), checked like body parameters.
fn input_items(call: &Call<'_>, id: &str) -> Payload {
    let Some(query) = query_pairs(&call.parts.uri) else {
        return errors::invalid_request("Invalid query string.", None, None);
    };
    let mut given = Map::new();
    for (key, value) in query {
        let value = match key.as_str() {
            "limit" => value
                .parse::<i64>()
                .map_or_else(|_| Value::String(value), Value::from),
            "order" | "after" => Value::String(value),
            _ => continue,
        };
        given.insert(key, value);
    }
    let given = Value::Object(given);
    if let Err(e) = validate::check_parameters(params::INPUT_ITEMS_QUERY, &given) {
        return e.payload();
    }
    let Some(stored) = call.server.responses().get(id) else {
        return errors::response_not_found(id);
    };
    let mut all: Vec<&Value> = stored.input().iter().collect();
    if given["order"] != "asc" {
        all.reverse();
    }
    let start = match given["after"].as_str() {
        Some(after) => all
            .iter()
            .position(|item| item["id"] == after)
            .map_or(all.len(), |at| at + 1),
        None => 0,
    };
    let limit = given["limit"]
        .as_u64()
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(DEFAULT_LIMIT);
    let rest = &all[start..];
    let page = &rest[..limit.min(rest.len())];
    let first = page.first().map(|item| item["id"].clone());
    let last = page.last().map(|item| item["id"].clone());
    success(
        call,
        &json!({
            "object": "list",
            "data": page,
            "first_id": first,
            "last_id": last,
            "has_more": rest.len() > page.len(),
        }),
    )
}
