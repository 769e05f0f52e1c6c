//! What an attempt's failure was: the trigger a route's fallbacks answer
//! to, whether the same call may succeed if retried, and how long the
//! provider asked to wait. Error answers are read whole already (success
//! bodies are never read here).

use std::time::Duration;

use airlock_providers::{ProviderError, TimeoutKind};
use http::{HeaderMap, StatusCode};
use memchr::memmem;

/// Why a route falls back to its next model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The provider failed (5xx), could not be reached, or has no usable key.
    Errors,
    /// It did not answer in time (a timeout, 408, 504).
    Timeouts,
    /// It is rate-limited (429, every key resting).
    RateLimits,
    /// The prompt is longer than the model takes: a longer-context model
    /// may take it.
    ContextLength,
    /// The provider refused the content: another model may not.
    ContentFilter,
}

impl Trigger {
    /// Every trigger, by its configuration name.
    pub const ALL: [(&'static str, Trigger); 5] = [
        ("errors", Trigger::Errors),
        ("timeouts", Trigger::Timeouts),
        ("rate_limits", Trigger::RateLimits),
        ("context_length", Trigger::ContextLength),
        ("content_filter", Trigger::ContentFilter),
    ];

    /// What a route falls back on when it does not say.
    pub const DEFAULT: [Trigger; 3] = [Trigger::Errors, Trigger::Timeouts, Trigger::RateLimits];

    pub fn parse(name: &str) -> Option<Trigger> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, trigger)| *trigger)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, trigger)| *trigger == self)
            .map_or("errors", |(name, _)| name)
    }
}

/// A failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub trigger: Trigger,
    /// Whether the same call may succeed if made again.
    pub retryable: bool,
    /// How long the provider asked to wait first.
    pub retry_after: Option<Duration>,
}

impl Failure {
    fn new(trigger: Trigger, retryable: bool) -> Failure {
        Failure {
            trigger,
            retryable,
            retry_after: None,
        }
    }
}

/// The failure an error answer is, if it is one a retry or a fallback may
/// help with (a client's own mistake is not).
pub fn of_answer(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<Failure> {
    match status.as_u16() {
        200..=399 => None,
        408 | 504 => Some(Failure::new(Trigger::Timeouts, true)),
        429 => Some(Failure {
            retry_after: retry_after(headers),
            ..Failure::new(Trigger::RateLimits, true)
        }),
        500 | 502 | 503 => Some(Failure::new(Trigger::Errors, true)),
        501 | 505..=599 => Some(Failure::new(Trigger::Errors, false)),
        400 | 413 if says_any(body, CONTEXT_LENGTH) => {
            Some(Failure::new(Trigger::ContextLength, false))
        }
        400 | 403 if says_any(body, CONTENT_FILTER) => {
            Some(Failure::new(Trigger::ContentFilter, false))
        }
        _ => None,
    }
}

/// The failure a call that got no answer is.
pub fn of_error(error: &ProviderError) -> Failure {
    match error {
        ProviderError::Unreachable { .. } | ProviderError::BrokeOff { .. } => {
            Failure::new(Trigger::Errors, true)
        }
        // Nothing was sent: the next connection may be made in time.
        ProviderError::Timeout {
            kind: TimeoutKind::Connect,
            ..
        } => Failure::new(Trigger::Timeouts, true),
        // The whole timeout has passed already: not again on this provider.
        ProviderError::Timeout { .. } => Failure::new(Trigger::Timeouts, false),
        ProviderError::RateLimited { retry_after, .. } => Failure {
            retry_after: Some(*retry_after),
            ..Failure::new(Trigger::RateLimits, true)
        },
        ProviderError::NoUsableKey { .. } | ProviderError::Unsupported { .. } => {
            Failure::new(Trigger::Errors, false)
        }
    }
}

/// How the providers say a prompt is too long: OpenAI's code, and
/// Gemini's message.
const CONTEXT_LENGTH: &[&str] = &[
    "context_length_exceeded",
    "maximum context length",
    "exceeds the maximum number of tokens",
    "input token count",
];

/// How they say the content was refused.
const CONTENT_FILTER: &[&str] = &[
    "content_policy_violation",
    "content_filter",
    "PROHIBITED_CONTENT",
    "blocked by safety",
];

fn says_any(body: &[u8], phrases: &[&str]) -> bool {
    phrases
        .iter()
        .any(|phrase| memmem::find(body, phrase.as_bytes()).is_some())
}

/// `Retry-After` in seconds (the form providers send).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Option<Failure> {
        of_answer(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    #[test]
    fn error_answers_are_read_as_the_failures_they_are() {
        assert_eq!(answer(200, ""), None);
        assert_eq!(
            answer(503, "{}").unwrap(),
            Failure::new(Trigger::Errors, true)
        );
        assert_eq!(answer(504, "{}").unwrap().trigger, Trigger::Timeouts);
        assert!(!answer(501, "{}").unwrap().retryable);
        let long = r#"{"error":{"code":"context_length_exceeded","message":"This model's maximum context length is 128000 tokens."}}"#;
        assert_eq!(
            answer(400, long).unwrap(),
            Failure::new(Trigger::ContextLength, false)
        );
        let gemini_long = r#"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(
            answer(400, gemini_long).unwrap().trigger,
            Trigger::ContextLength
        );
        let refused = r#"{"error":{"code":"content_policy_violation"}}"#;
        assert_eq!(
            answer(400, refused).unwrap().trigger,
            Trigger::ContentFilter
        );
        // A client's own mistake is neither retried nor fallen back from.
        assert_eq!(
            answer(400, r#"{"error":{"message":"Unknown parameter"}}"#),
            None
        );
        assert_eq!(answer(401, "{}"), None);
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        let limited = of_answer(StatusCode::TOO_MANY_REQUESTS, &headers, b"{}").unwrap();
        assert_eq!(limited.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn calls_without_an_answer_are_read_too() {
        let provider = "p".to_string();
        assert!(
            of_error(&ProviderError::Unreachable {
                provider: provider.clone()
            })
            .retryable
        );
        let timeout = |kind| {
            let failure = of_error(&ProviderError::Timeout {
                provider: provider.clone(),
                kind,
                after: Duration::from_secs(1),
            });
            (failure.trigger, failure.retryable)
        };
        assert_eq!(timeout(TimeoutKind::FirstByte), (Trigger::Timeouts, false));
        assert_eq!(timeout(TimeoutKind::Total), (Trigger::Timeouts, false));
        assert_eq!(
            timeout(TimeoutKind::Connect),
            (Trigger::Timeouts, true),
            "nothing was sent"
        );
        let resting = of_error(&ProviderError::RateLimited {
            provider,
            retry_after: Duration::from_millis(300),
        });
        assert_eq!(resting.retry_after, Some(Duration::from_millis(300)));
        assert!(resting.retryable);
    }

    #[test]
    fn triggers_have_configuration_names() {
        for (name, trigger) in Trigger::ALL {
            assert_eq!(Trigger::parse(name), Some(trigger));
            assert_eq!(trigger.name(), name);
        }
        assert_eq!(Trigger::parse("sometimes"), None);
    }
}
