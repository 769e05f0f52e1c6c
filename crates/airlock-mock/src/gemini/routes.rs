//! Gemini's REST surface under `/{version}/models`: listing and getting
//! models, `generateContent`, `streamGenerateContent`, `countTokens`,
//! `embedContent` and `batchEmbedContents`; `predict` (Imagen's method,
//! retired with it) is Google's model 404 for every model.

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Method;
use serde_json::{Value, json};

use super::catalog::{self, GeminiModel};
use super::errors::{self, CONTENT_TYPE, Violation};
use super::generate;
use super::proto::{self, Message};
use super::request::{self, Refusal};
use super::{caching, compose, embed, validate};
use crate::body::{self, BodyError};
use crate::delivery::Payload;
use crate::gate::query_pairs;
use crate::routes::Call;

/// Query parameters every Google API method accepts.
const SYSTEM_PARAMETERS: &[&str] = &[
    "key",
    "alt",
    "$alt",
    "fields",
    "$fields",
    "prettyPrint",
    "$prettyPrint",
    "quotaUser",
    "$quotaUser",
    "callback",
    "$callback",
    "upload_protocol",
    "uploadType",
    "access_token",
    "$.xgafv",
];

const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 1000;

pub async fn handle(call: &Call<'_>, version: &str, rest: Option<&str>, body: Body) -> Payload {
    let method = &call.parts.method;
    let extra: &[&str] = if rest.is_none() {
        &["pageSize", "page_size", "pageToken", "page_token"]
    } else {
        &[]
    };
    let query = match checked_query(call, extra) {
        Ok(q) => q,
        Err(p) => return p,
    };
    match rest.map(|r| r.rsplit_once(':')) {
        None if method == Method::GET => list_models(&query),
        Some(None) if method == Method::GET => match catalog::find(rest.unwrap_or("")) {
            Some(m) => ok(&m.resource(), 0),
            None => errors::model_not_found(rest.unwrap_or(""), version, "get"),
        },
        Some(Some((model, verb))) if method == Method::POST => {
            let sse = query
                .iter()
                .any(|(k, v)| (k == "alt" || k == "$alt") && v == "sse");
            action(call, version, model, verb, sse, body).await
        }
        _ => errors::unknown_url(),
    }
}

/// The decoded query, refusing parameters the method does not bind.
fn checked_query(call: &Call<'_>, extra: &[&str]) -> Result<Vec<(String, String)>, Payload> {
    let Some(query) = query_pairs(&call.parts.uri) else {
        return Err(errors::invalid_argument("Invalid query string."));
    };
    let unknown: Vec<Violation> = query
        .iter()
        .filter(|(k, _)| !SYSTEM_PARAMETERS.contains(&k.as_str()) && !extra.contains(&k.as_str()))
        .map(|(k, _)| Violation {
            field: None,
            description: format!(
                "Invalid JSON payload received. Unknown name \"{k}\": Cannot bind query parameter. Field '{k}' could not be found in request message."
            ),
        })
        .collect();
    if unknown.is_empty() {
        Ok(query)
    } else {
        Err(errors::invalid_payload(&unknown))
    }
}

/// A 200 JSON answer, pretty-printed as Google sends it.
fn ok(value: &Value, pace: usize) -> Payload {
    let bytes = serde_json::to_vec_pretty(value).unwrap_or_default();
    let payload = Payload::json(http::StatusCode::OK, CONTENT_TYPE, bytes);
    if pace > 0 {
        payload.paced(pace)
    } else {
        payload
    }
}

fn list_models(query: &[(String, String)]) -> Payload {
    let param = |names: [&str; 2]| {
        query
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
    };
    let page_size = match param(["pageSize", "page_size"]) {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) if n > 0 => usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
            Ok(_) => DEFAULT_PAGE_SIZE,
            Err(_) => {
                return errors::invalid_payload(&[Violation {
                    field: Some("page_size".into()),
                    description: format!("Invalid value at 'page_size' (TYPE_INT32), \"{v}\""),
                }]);
            }
        },
    };
    let start = match param(["pageToken", "page_token"]).filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match decode_page_token(token) {
            Some(n) if n <= catalog::MODELS.len() => n,
            _ => return errors::invalid_argument("Invalid page token."),
        },
    };
    let end = (start + page_size).min(catalog::MODELS.len());
    let mut out = json!({ "models": catalog::MODELS[start..end].iter().map(GeminiModel::resource).collect::<Vec<_>>() });
    if end < catalog::MODELS.len() {
        out["nextPageToken"] = json!(URL_SAFE_NO_PAD.encode(format!("models-offset:{end}")));
    }
    ok(&out, 0)
}

fn decode_page_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("models-offset:")?
        .parse()
        .ok()
}

/// The body parsed as `message`, or the error Google would send.
async fn parse_body(
    call: &Call<'_>,
    body: Body,
    message: &'static Message,
    version: &str,
) -> Result<Value, Payload> {
    let value = match body::read_json(call, body).await {
        Ok(v) => v,
        Err(BodyError::Empty) => json!({}),
        Err(BodyError::TooLarge) => return Err(errors::payload_too_large(body::MAX_BODY_BYTES)),
        Err(BodyError::Unreadable) => {
            return Err(errors::invalid_argument(
                "Invalid JSON payload received. Unexpected end of string.",
            ));
        }
        Err(BodyError::Malformed(e)) => {
            let mut reason = e.to_string();
            if let Some(first) = reason.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            return Err(errors::invalid_payload(&[Violation {
                field: None,
                description: format!("Invalid JSON payload received. {reason}."),
            }]));
        }
    };
    validate::parse(message, value, version).map_err(|v| errors::invalid_payload(&v))
}

fn refusal(r: Refusal) -> Payload {
    match r {
        Refusal::Role => errors::invalid_argument("Please use a valid role: user, model."),
        Refusal::UnsupportedMime(mime) => {
            errors::invalid_argument(&format!("Unsupported MIME type: {mime}"))
        }
        Refusal::Checks(problems) => errors::failed_checks(&problems),
    }
}

async fn action(
    call: &Call<'_>,
    version: &str,
    model: &str,
    verb: &str,
    sse: bool,
    body: Body,
) -> Payload {
    let message = match verb {
        // Imagen, the only models that served it, is retired: Google's 404
        // for a model that is gone, or that does not serve the method.
        "predict" => {
            return errors::model_not_found(
                model.strip_prefix("models/").unwrap_or(model),
                version,
                verb,
            );
        }
        "generateContent" | "streamGenerateContent" => &proto::GENERATE_CONTENT_REQUEST,
        "countTokens" => &proto::COUNT_TOKENS_REQUEST,
        "embedContent" => &proto::EMBED_CONTENT_REQUEST,
        "batchEmbedContents" => &proto::BATCH_EMBED_CONTENTS_REQUEST,
        _ => return errors::unknown_url(),
    };
    let req = match parse_body(call, body, message, version).await {
        Ok(r) => r,
        Err(p) => return p,
    };
    let Some(found) = catalog::find(model).filter(|m| m.supports(verb)) else {
        return errors::model_not_found(
            model.strip_prefix("models/").unwrap_or(model),
            version,
            verb,
        );
    };
    let seed = call.server.seed();
    match verb {
        "generateContent" | "streamGenerateContent" => {
            if let Err(r) = request::check(&req, "GenerateContentRequest") {
                return refusal(r);
            }
            if let Some(message) = compose::refusal(&req, found) {
                return errors::invalid_argument(&message);
            }
            let mut generation = compose::generation(&req, found, seed, call.serial);
            generation.cached = caching::cached(call.server, found, &req, &generation.prompt);
            let chunks = generation.chunks();
            if verb == "generateContent" {
                ok(&generation.whole(), chunks.len())
            } else if sse {
                Payload::stream("text/event-stream", generate::sse_events(&chunks), None)
            } else {
                let (pieces, end) = generate::json_array_pieces(&chunks);
                Payload::stream(CONTENT_TYPE, pieces, Some(end))
            }
        }
        "countTokens" => count_tokens(&req),
        "embedContent" => embed::single(&req, found, seed),
        _ => embed::batch(&req, found, seed),
    }
}

fn count_tokens(req: &Value) -> Payload {
    let tokens = match (req.get("contents"), req.get("generateContentRequest")) {
        (Some(_), Some(_)) => {
            return errors::failed_checks(&[
                "CountTokensRequest: contents and generate_content_request cannot both be set."
                    .into(),
            ]);
        }
        (_, Some(inner)) => {
            if let Err(r) = request::check(inner, "CountTokensRequest.generate_content_request") {
                return refusal(r);
            }
            request::prompt_tokens(inner)
        }
        (contents, None) => {
            let wrapped = json!({ "contents": contents.cloned().unwrap_or(json!([])) });
            if let Err(r) = request::check(&wrapped, "CountTokensRequest") {
                return refusal(r);
            }
            request::contents_tokens(&wrapped["contents"])
        }
    };
    ok(
        &json!({ "totalTokens": tokens.total(), "promptTokensDetails": tokens.details() }),
        0,
    )
}
