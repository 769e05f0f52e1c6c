//! Faults aimed at one provider side and limited to a number of requests,
//! for tests of what a gateway does when one provider fails and another
//! does not, or when a provider fails a few times and then recovers:
//! [`crate::MockServer::add_fault_rule`] from Rust, or over HTTP:
//!
//! ```text
//! POST   /mock/faults  {"provider": "openai" | "gemini" | null, "fault": "status=503", "times": 2, "rate": 0.5}
//! GET    /mock/faults  the rules still in force, with the requests they have left
//! DELETE /mock/faults  forgets every rule
//! ```
//!
//! A request takes the first rule for its side that has requests left
//! and, for a rule with a `rate` (0 to 1), whose draw for that request
//! falls within the rate (and uses one of its requests); with none, the
//! server-wide fault applies. A fault a request names itself
//! (`x-mock-fault`) comes before both. Draws are deterministic: a hash of
//! the server's seed, the request's serial number and the rule's place, so
//! a rate of 0.1 fails about one request in ten, and the same requests in
//! the same order fail the same way.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde_json::json;

use crate::config::Fault;
use crate::gate::Provider;
use crate::server::MockServer;

/// One rule: a fault for one side (or both), for some requests (or all).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// `None`: both sides.
    pub provider: Option<Provider>,
    pub fault: Fault,
    /// How many requests it applies to; `None`: every one.
    pub times: Option<u32>,
    /// The share of the requests reaching it (0 to 1) that it applies to;
    /// `None`: every one.
    pub rate: Option<f64>,
}

impl FaultRule {
    /// Whether it applies to a request for `provider` whose draw (uniform
    /// in 0..1) is `draw`, using one of its requests when it does.
    pub(crate) fn take(&mut self, provider: Option<Provider>, draw: f64) -> Option<Fault> {
        if self.provider.is_some() && self.provider != provider {
            return None;
        }
        if self.rate.is_some_and(|rate| draw >= rate) {
            return None;
        }
        match &mut self.times {
            Some(0) => None,
            Some(left) => {
                *left -= 1;
                Some(self.fault)
            }
            None => Some(self.fault),
        }
    }
}

/// `/mock/faults`.
pub async fn route(State(server): State<MockServer>, request: Request) -> Response {
    match *request.method() {
        Method::GET => axum::Json(json!({"data": server.fault_rules().iter().map(|rule| json!({
            "provider": rule.provider.map(|p| match p { Provider::Gemini => "gemini", Provider::OpenAi => "openai" }),
            "fault": format!("{:?}", rule.fault),
            "times": rule.times,
            "rate": rule.rate,
        })).collect::<Vec<_>>()}))
        .into_response(),
        Method::DELETE => {
            server.clear_fault_rules();
            StatusCode::NO_CONTENT.into_response()
        }
        Method::POST => {
            let Ok(bytes) = axum::body::to_bytes(request.into_body(), 64 * 1024).await else {
                return refuse("the body could not be read");
            };
            let rule = match read_rule(&bytes) {
                Ok(rule) => rule,
                Err(message) => return refuse(&message),
            };
            server.add_fault_rule(rule);
            StatusCode::CREATED.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

/// A rule from `{"provider", "fault", "times"}`.
fn read_rule(bytes: &[u8]) -> Result<FaultRule, String> {
    let body: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|error| format!("the body is not JSON: {error}"))?;
    let Some(fields) = body.as_object() else {
        return Err("expected an object {provider, fault, times, rate}".into());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !matches!(key.as_str(), "provider" | "fault" | "times" | "rate"))
    {
        return Err(format!("unknown field {unknown:?}"));
    }
    let provider = match fields.get("provider") {
        None | Some(serde_json::Value::Null) => None,
        Some(side) => match side.as_str() {
            Some("gemini") => Some(Provider::Gemini),
            Some("openai") => Some(Provider::OpenAi),
            _ => return Err(format!("provider must be gemini or openai, got {side}")),
        },
    };
    let fault = match fields.get("fault").and_then(serde_json::Value::as_str) {
        None => return Err("a rule needs a fault, e.g. \"status=503\"".into()),
        Some(text) => match crate::overrides::parse_fault(text) {
            Ok(Some(fault)) => fault,
            Ok(None) => return Err("a rule needs a fault, not none".into()),
            Err(error) => return Err(error.to_string()),
        },
    };
    let times = match fields.get("times") {
        None | Some(serde_json::Value::Null) => None,
        Some(times) => Some(
            times
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("times must be a count, got {times}"))?,
        ),
    };
    let rate = match fields.get("rate") {
        None | Some(serde_json::Value::Null) => None,
        Some(rate) => Some(
            rate.as_f64()
                .filter(|rate| (0.0..=1.0).contains(rate))
                .ok_or_else(|| format!("rate must be a number from 0 to 1, got {rate}"))?,
        ),
    };
    Ok(FaultRule {
        provider,
        fault,
        times,
        rate,
    })
}
fn refuse(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": message})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_applies_to_its_side_for_its_requests() {
        let mut rule = FaultRule {
            provider: Some(Provider::OpenAi),
            fault: Fault::Status(503),
            times: Some(2),
            rate: None,
        };
        assert_eq!(rule.take(Some(Provider::Gemini), 0.0), None);
        assert_eq!(
            rule.take(Some(Provider::OpenAi), 0.0),
            Some(Fault::Status(503))
        );
        assert_eq!(
            rule.take(Some(Provider::OpenAi), 0.0),
            Some(Fault::Status(503))
        );
        assert_eq!(rule.take(Some(Provider::OpenAi), 0.0), None);
        let mut always = FaultRule {
            provider: None,
            fault: Fault::Status(500),
            times: None,
            rate: None,
        };
        assert_eq!(
            always.take(Some(Provider::Gemini), 0.99),
            Some(Fault::Status(500))
        );
        assert_eq!(always.take(None, 0.5), Some(Fault::Status(500)));
    }

    #[test]
    fn a_rule_with_a_rate_applies_to_the_draws_within_it_and_counts_only_those() {
        let mut rule = FaultRule {
            provider: None,
            fault: Fault::Reset,
            times: Some(1),
            rate: Some(0.25),
        };
        assert_eq!(rule.take(None, 0.25), None, "outside the rate");
        assert_eq!(rule.times, Some(1), "a request passed over uses nothing");
        assert_eq!(rule.take(None, 0.1), Some(Fault::Reset));
        assert_eq!(rule.take(None, 0.1), None, "its one request is used");
    }

    #[test]
    fn rules_are_read_with_their_rate() {
        let rule = read_rule(br#"{"fault": "stall-after=2", "rate": 0.5}"#).unwrap();
        assert_eq!(rule.fault, Fault::StallAfterChunks(2));
        assert_eq!(rule.rate, Some(0.5));
        for bad in [
            r#"{"fault": "status=500", "rate": 1.5}"#,
            r#"{"fault": "status=500", "rate": "half"}"#,
            r#"{"fault": "status=500", "often": true}"#,
        ] {
            assert!(read_rule(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
