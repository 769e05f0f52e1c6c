//! Signed webhooks: what budget alerts and realtime tools POST to a
//! project's own backend.
//!
//! Every POST carries `x-airlock-signature: t=<unix seconds>,v1=<hex>`,
//! where `<hex>` is HMAC-SHA256, keyed with the webhook's secret, of
//! `"<t>.<body>"` (the same scheme as Stripe's). A receiver recomputes it
//! over the raw body, compares in constant time and rejects a `t` too far
//! from its clock, which stops replays; [`verify`] does all of that.
//!
//! Redirects are not followed (one would re-send a signed body elsewhere).
//! Neither the secret nor the URL beyond its origin is ever logged or put in
//! an error: a query or a path (as in Slack's webhooks) may carry a token.

use std::time::Duration;

use http::StatusCode;
use http::header::CONTENT_TYPE;
use ring::hmac;
use url::Url;

use crate::clock;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-airlock-signature";

/// One webhook: where it is, how its calls are signed, how long one may take.
#[derive(Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: Url,
    origin: String,
    key: hmac::Key,
    timeout: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("origin", &self.origin)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a POST got no answer (the URL is never quoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoAnswer {
    pub timed_out: bool,
    pub reason: String,
}

/// How a POST tried up to a number of times ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered(StatusCode),
    /// An answer not worth another attempt (a 4xx other than 429).
    Refused(StatusCode),
    /// Every attempt failed with a network error, a 5xx or a 429: the last reason.
    GaveUp(String),
}

/// The HTTP client webhooks share: no redirects.
pub fn client() -> Result<reqwest::Client, String> {
    airlock_providers::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("building the webhook HTTP client: {e}"))
}

impl Webhook {
    /// Checks the URL (`http`/`https` with a host), the secret (not empty)
    /// and the timeout (not zero); `what` names the webhook in errors.
    pub fn new(
        client: reqwest::Client,
        url: &str,
        secret: &str,
        timeout: Duration,
        what: &str,
    ) -> Result<Self, String> {
        let url = Url::parse(url.trim())
            .map_err(|e| format!("the {what} URL is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the {what} URL must be http or https, not {}",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("the {what} URL has no host"));
        }
        if secret.is_empty() {
            return Err(format!("the {what} secret is empty"));
        }
        if timeout.is_zero() {
            return Err(format!("the {what} timeout must be more than zero"));
        }
        Ok(Webhook {
            client,
            origin: url.origin().ascii_serialization(),
            url,
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            timeout,
        })
    }

    /// `scheme://host[:port]`: what of the URL may be logged.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// One signed POST of a JSON `body` with `headers`, within the timeout.
    pub async fn post(
        &self,
        body: &[u8],
        headers: &[(&'static str, &str)],
    ) -> Result<reqwest::Response, NoAnswer> {
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                sign_with(&self.key, clock::unix_secs(), body),
            );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
            .body(body.to_vec())
            .send()
            .await
            .map_err(|error| NoAnswer {
                timed_out: error.is_timeout(),
                reason: if error.is_timeout() {
                    "timed out".into()
                } else if error.is_connect() {
                    "could not connect".into()
                } else {
                    // `without_url`: reqwest's errors quote the URL, token and all.
                    error.without_url().to_string()
                },
            })
    }

    /// Signed POSTs until one is answered with success or a refusal, waiting
    /// `retry_delays[i]` before attempt `i + 2`; a network error, a 5xx or a
    /// 429 is tried again. Each attempt is signed anew.
    pub async fn post_with_retry(
        &self,
        body: &[u8],
        headers: &[(&'static str, &str)],
        retry_delays: &[Duration],
    ) -> (Outcome, usize) {
        let mut attempt = 1;
        loop {
            let reason = match self.post(body, headers).await {
                Ok(answer) if answer.status().is_success() => {
                    return (Outcome::Delivered(answer.status()), attempt);
                }
                Ok(answer)
                    if !answer.status().is_server_error()
                        && answer.status() != StatusCode::TOO_MANY_REQUESTS =>
                {
                    return (Outcome::Refused(answer.status()), attempt);
                }
                Ok(answer) => format!("status {}", answer.status().as_u16()),
                Err(failure) => failure.reason,
            };
            let Some(delay) = retry_delays.get(attempt - 1) else {
                return (Outcome::GaveUp(reason), attempt);
            };
            tracing::debug!(webhook = %self.origin, attempt, reason, "webhook attempt failed; retrying");
            tokio::time::sleep(*delay).await;
            attempt += 1;
        }
    }
}

/// The `x-airlock-signature` value for `body` signed at `timestamp` (Unix
/// seconds): `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`,
/// keyed with `secret`.
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    sign_with(
        &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        timestamp,
        body,
    )
}

fn sign_with(key: &hmac::Key, timestamp: u64, body: &[u8]) -> String {
    let tag = hmac::sign(key, &signed_payload(timestamp, body));
    format!("t={timestamp},v1={}", hex::encode(tag.as_ref()))
}

fn signed_payload(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// Whether `header` (an `x-airlock-signature` value) signs `body` with
/// `secret`, at a time within `tolerance_secs` of `now` (Unix seconds) either
/// way. Several `v1=` entries are allowed (any one matching suffices), unknown
/// entries are ignored, and the comparison is constant-time.
pub fn verify(secret: &str, header: &str, body: &[u8], now: u64, tolerance_secs: u64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            continue;
        };
        match name {
            "t" if timestamp.is_none() => match value.parse::<u64>() {
                Ok(t) => timestamp = Some(t),
                Err(_) => return false,
            },
            "t" => return false,
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if timestamp.abs_diff(now) > tolerance_secs {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let payload = signed_payload(timestamp, body);
    signatures
        .iter()
        .any(|tag| hmac::verify(&key, &payload, tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently with Python:
    //   hmac.new(b"whsec_test", b'1767225600.{"type":"budget.threshold"}',
    //            hashlib.sha256).hexdigest()
    const VECTOR: &str = "6238f329cd83cf001cc32bfd16d21207c825c3e0bb3e9c7e4fb448dbffd66507";
    const VECTOR_BODY: &[u8] = br#"{"type":"budget.threshold"}"#;

    #[test]
    fn sign_matches_an_independent_vector() {
        assert_eq!(
            sign("whsec_test", 1_767_225_600, VECTOR_BODY),
            format!("t=1767225600,v1={VECTOR}")
        );
        // hmac.new(b"key", b"0.", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("key", 0, b""),
            "t=0,v1=85841b4efc3cd7776c3c8f9b7cca9e281c550e5d19889d78e9e669c6337f000d"
        );
    }

    #[test]
    fn verify_accepts_good_signatures_only() {
        let header = format!("t=1767225600,v1={VECTOR}");
        let t = 1_767_225_600;
        assert!(verify("whsec_test", &header, VECTOR_BODY, t, 300));
        assert!(verify("whsec_test", &header, VECTOR_BODY, t + 300, 300));
        assert!(verify("whsec_test", &header, VECTOR_BODY, t - 300, 300));
        // Spaces, upper-case hex, a rotated-out signature beside and unknown entries.
        let rotated = format!(
            "t=1767225600, v1={}, v0=abc, v1={}",
            "00".repeat(32),
            VECTOR.to_uppercase()
        );
        assert!(verify("whsec_test", &rotated, VECTOR_BODY, t, 300));

        assert!(
            !verify("whsec_test", &header, VECTOR_BODY, t + 301, 300),
            "too old"
        );
        assert!(
            !verify("whsec_test", &header, VECTOR_BODY, t - 301, 300),
            "too new"
        );
        assert!(
            !verify("other", &header, VECTOR_BODY, t, 300),
            "wrong secret"
        );
        assert!(!verify("whsec_test", &header, b"{}", t, 300), "other body");
        let moved = format!("t=1767225601,v1={VECTOR}");
        assert!(
            !verify("whsec_test", &moved, VECTOR_BODY, t, 300),
            "timestamp changed"
        );
        for bad in [
            "",
            "v1=6238",
            &format!("v1={VECTOR}"),
            "t=1767225600",
            &format!("t=x,v1={VECTOR}"),
            &format!("t=1767225600,v1={}", &VECTOR[..63]),
            &format!("t=1767225600,v1={}", &VECTOR[..62]),
            &format!("t=1767225600,t=1767225600,v1={VECTOR}"),
        ] {
            assert!(!verify("whsec_test", bad, VECTOR_BODY, t, 300), "{bad:?}");
        }
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let body = br#"{"threshold_percent":80}"#;
        let header = sign("s3cret", 1_000, body);
        assert!(verify("s3cret", &header, body, 1_010, 60));
    }
}
