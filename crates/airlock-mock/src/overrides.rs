//! Per-request overrides carried in `x-mock-fault` and `x-mock-latency`
//! headers; see the crate documentation for their syntax.

use std::time::Duration;

use http::HeaderMap;

use crate::config::{Fault, Latency};

pub const FAULT_HEADER: &str = "x-mock-fault";
pub const LATENCY_HEADER: &str = "x-mock-latency";

/// What a request's headers ask to change for that request alone.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `Some(None)` means `x-mock-fault: none`: no fault for this request.
    pub fault: Option<Option<Fault>>,
    pub latency: Option<Latency>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OverrideError {
    #[error("invalid {header} header: {reason}")]
    Invalid {
        header: &'static str,
        reason: String,
    },
}

fn invalid(header: &'static str, reason: impl Into<String>) -> OverrideError {
    OverrideError::Invalid {
        header,
        reason: reason.into(),
    }
}

impl Overrides {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, OverrideError> {
        let fault = header_text(headers, FAULT_HEADER)?
            .map(parse_fault)
            .transpose()?;
        let latency = header_text(headers, LATENCY_HEADER)?
            .map(parse_latency)
            .transpose()?;
        Ok(Self { fault, latency })
    }
}

fn header_text<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, OverrideError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| invalid(name, "not visible ASCII")),
    }
}

fn number(header: &'static str, key: &str, value: &str) -> Result<u64, OverrideError> {
    value.trim().parse::<u64>().map_err(|_| {
        invalid(
            header,
            format!("{key} needs a non-negative integer, got {value:?}"),
        )
    })
}

pub(crate) fn parse_fault(text: &str) -> Result<Option<Fault>, OverrideError> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if text.eq_ignore_ascii_case("reset") {
        return Ok(Some(Fault::Reset));
    }
    let (key, value) = text.split_once('=').ok_or_else(|| {
        invalid(
            FAULT_HEADER,
            format!("expected key=value or none, got {text:?}"),
        )
    })?;
    let key = key.trim();
    let n = number(FAULT_HEADER, key, value)?;
    let fault = match key {
        "status" => match u16::try_from(n) {
            Ok(code @ 400..=599) => Fault::Status(code),
            _ => {
                return Err(invalid(
                    FAULT_HEADER,
                    format!("status must be 400..=599, got {n}"),
                ));
            }
        },
        "rate-limit" => Fault::RateLimit {
            retry_after_secs: n,
        },
        "disconnect-after" => {
            Fault::DisconnectAfterChunks(usize::try_from(n).unwrap_or(usize::MAX))
        }
        "stall-after" => Fault::StallAfterChunks(usize::try_from(n).unwrap_or(usize::MAX)),
        "slow-headers-ms" => Fault::SlowHeaders(Duration::from_millis(n)),
        "go-away-ms" => Fault::GoAway {
            time_left: Duration::from_millis(n),
        },
        other => {
            return Err(invalid(
                FAULT_HEADER,
                format!(
                    "unknown fault {other:?} (expected status, rate-limit, disconnect-after, stall-after, slow-headers-ms, go-away-ms, reset or none)"
                ),
            ));
        }
    };
    Ok(Some(fault))
}

fn parse_latency(text: &str) -> Result<Latency, OverrideError> {
    let mut latency = Latency::default();
    let (mut first, mut per) = (false, false);
    for item in text.split(',') {
        let (key, value) = item.split_once('=').ok_or_else(|| {
            invalid(
                LATENCY_HEADER,
                format!("expected key=value, got {:?}", item.trim()),
            )
        })?;
        let key = key.trim();
        let ms = Duration::from_millis(number(LATENCY_HEADER, key, value)?);
        let seen = match key {
            "first-token-ms" => {
                latency.first_token = ms;
                &mut first
            }
            "per-chunk-ms" => {
                latency.per_chunk = ms;
                &mut per
            }
            other => {
                return Err(invalid(
                    LATENCY_HEADER,
                    format!("unknown key {other:?} (expected first-token-ms or per-chunk-ms)"),
                ));
            }
        };
        if std::mem::replace(seen, true) {
            return Err(invalid(LATENCY_HEADER, format!("{key} given twice")));
        }
    }
    Ok(latency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(fault: Option<&str>, latency: Option<&str>) -> Result<Overrides, OverrideError> {
        let mut headers = HeaderMap::new();
        if let Some(f) = fault {
            headers.insert(FAULT_HEADER, HeaderValue::from_str(f).unwrap());
        }
        if let Some(l) = latency {
            headers.insert(LATENCY_HEADER, HeaderValue::from_str(l).unwrap());
        }
        Overrides::from_headers(&headers)
    }

    #[test]
    fn absent_headers_change_nothing() {
        assert_eq!(parse(None, None).unwrap(), Overrides::default());
    }

    #[test]
    fn each_fault_form_parses() {
        let f = |s| parse(Some(s), None).unwrap().fault.unwrap();
        assert_eq!(f("status=503"), Some(Fault::Status(503)));
        assert_eq!(
            f("rate-limit=2"),
            Some(Fault::RateLimit {
                retry_after_secs: 2
            })
        );
        assert_eq!(
            f("disconnect-after=3"),
            Some(Fault::DisconnectAfterChunks(3))
        );
        assert_eq!(f("stall-after=2"), Some(Fault::StallAfterChunks(2)));
        assert_eq!(f("reset"), Some(Fault::Reset));
        assert_eq!(
            f("slow-headers-ms=500"),
            Some(Fault::SlowHeaders(Duration::from_millis(500)))
        );
        assert_eq!(
            f("go-away-ms=1500"),
            Some(Fault::GoAway {
                time_left: Duration::from_millis(1500)
            })
        );
        assert_eq!(f(" none "), None);
    }

    #[test]
    fn latency_parses_with_defaults() {
        let l = parse(None, Some("first-token-ms=100, per-chunk-ms=20"))
            .unwrap()
            .latency
            .unwrap();
        assert_eq!(l.first_token, Duration::from_millis(100));
        assert_eq!(l.per_chunk, Duration::from_millis(20));
        let l = parse(None, Some("per-chunk-ms=5"))
            .unwrap()
            .latency
            .unwrap();
        assert_eq!(l.first_token, Duration::ZERO);
    }

    #[test]
    fn bad_values_are_rejected() {
        for bad in [
            "status=200",
            "status=abc",
            "status=99999",
            "boom=1",
            "status",
            "rate-limit=-1",
        ] {
            assert!(parse(Some(bad), None).is_err(), "{bad}");
        }
        for bad in [
            "first-token-ms",
            "first-token-ms=x",
            "x=1",
            "per-chunk-ms=1,per-chunk-ms=2",
            "",
        ] {
            assert!(parse(None, Some(bad)).is_err(), "{bad}");
        }
    }
}
