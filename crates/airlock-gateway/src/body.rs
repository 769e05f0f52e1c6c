//! Reading request bodies: content type, size limit, UTF-8 and JSON syntax,
//! each refused with its own clear error. A declared length over the limit
//! is refused before any of the body is read; a body the server cut
//! ([`crate::body_guard`]: too slow, or over the body budget) is refused as
//! such.

use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as _;
use metrics::counter;
use serde_json::{Map, Value};

use crate::body_guard::BodyRefused;
use crate::error::ApiError;
use crate::metrics::REQUEST_BODIES_REFUSED;

/// Reads a JSON request body of at most `limit` bytes. A missing Content-Type
/// is taken as JSON; any other type than `application/json` is refused.
/// A `Content-Length` over the limit is refused at once, unread.
pub async fn read_json_bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    if let Some(essence) = content_type_essence(headers)
        && !essence.eq_ignore_ascii_case("application/json")
    {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    let bytes = read_limited(body, limit).await?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ApiError::InvalidJson("the body is not valid UTF-8".into()));
    }
    Ok(bytes)
}

/// The type and subtype of a request's `Content-Type`, without parameters.
pub fn content_type_essence(headers: &HeaderMap) -> Option<&str> {
    let content_type = headers.get(http::header::CONTENT_TYPE)?;
    Some(
        content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim(),
    )
}

/// Reads a request body of at most `limit` bytes, whatever its type. A
/// `Content-Length` over the limit is refused at once, unread.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        counter!(REQUEST_BODIES_REFUSED, "reason" => "too_large").increment(1);
        ApiError::PayloadTooLarge { limit }
    };
    if body
        .size_hint()
        .exact()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(error) => Err(match BodyRefused::find(&*error) {
            Some(BodyRefused::TooSlow) => ApiError::BodyTooSlow,
            Some(BodyRefused::OverBudget) => ApiError::BodyBudgetFull,
            None => ApiError::BadRequest {
                message: "The request body could not be read.".into(),
                param: None,
            },
        }),
    }
}

/// Checks that bytes hold one JSON value, without building it.
pub fn check_json_syntax(bytes: &[u8]) -> Result<(), ApiError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(drop)
        .map_err(|error| ApiError::InvalidJson(error.to_string()))
}

/// Parses bytes as a JSON object.
pub fn parse_json_object(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::InvalidJson(
            "the body must be a JSON object".into(),
        )),
        Err(error) => Err(ApiError::InvalidJson(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn refuses_wrong_type_size_and_encoding() {
        let mut form = HeaderMap::new();
        form.insert(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(matches!(
            read_json_bytes(&form, Body::from("{}"), 10).await,
            Err(ApiError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            read_json_bytes(&json_headers(), Body::from("{\"a\": 12345}"), 5).await,
            Err(ApiError::PayloadTooLarge { limit: 5 })
        ));
        assert!(matches!(
            read_json_bytes(&json_headers(), Body::from(vec![b'"', 0xff, b'"']), 10).await,
            Err(ApiError::InvalidJson(_))
        ));
        let ok = read_json_bytes(&HeaderMap::new(), Body::from("{}"), 10)
            .await
            .unwrap();
        assert_eq!(&ok[..], b"{}");
    }

    #[test]
    fn checks_syntax_and_objects() {
        assert!(check_json_syntax(b"{\"a\":[1,2]}").is_ok());
        assert!(check_json_syntax(b"{\"a\":").is_err());
        assert!(parse_json_object(b"[1]").is_err());
        assert!(parse_json_object(b"{}").is_ok());
    }
}
