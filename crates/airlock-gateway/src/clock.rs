//! The wall clock and the calendar: "now" in the units the gateway uses, and
//! RFC 3339 timestamps and `YYYY-MM-DD` days read and written with `jiff`
//! (UTC only, no time zone database).

use jiff::Timestamp;
use jiff::civil::Date;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

/// Seconds since the Unix epoch (OpenAI's `created`, webhook signatures).
pub fn unix_secs() -> u64 {
    u64::try_from(Timestamp::now().as_second()).unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds) for milliseconds since the epoch.
pub fn rfc3339(ms: i64) -> String {
    Timestamp::from_millisecond(ms.div_euclid(1000) * 1000)
        .map_or_else(|_| "invalid".into(), |t| t.to_string())
}

/// Milliseconds since the epoch for an RFC 3339 timestamp with an offset
/// (`Z` or `±HH:MM`), fractions of a second kept to the millisecond.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    // RFC 3339 (and protobuf's JSON) require the seconds, which jiff's
    // parser would let go.
    let (_, time) = text.split_once(['T', 't'])?;
    if time.as_bytes().get(5) != Some(&b':') {
        return None;
    }
    text.parse::<Timestamp>()
        .ok()
        .map(Timestamp::as_millisecond)
}

/// Milliseconds at the start of a `YYYY-MM-DD` day (UTC).
pub fn parse_day_ms(text: &str) -> Option<i64> {
    if text.len() != 10 {
        return None;
    }
    let date: Date = text.parse().ok()?;
    let midnight = date.to_datetime(jiff::civil::Time::midnight());
    let start = jiff::tz::Offset::UTC.to_timestamp(midnight).ok()?;
    Some(start.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_utc_timestamps() {
        const NOV: i64 = 1_793_491_200_000; // 2026-11-01T00:00:00Z
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(NOV), "2026-11-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_251_199_999), "2024-02-29T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        let ms = parse_rfc3339_ms("2026-11-22T10:30:00Z").unwrap();
        assert_eq!(rfc3339(ms), "2026-11-22T10:30:00Z");
        assert_eq!(parse_rfc3339_ms("2026-11-22T10:30:00.250Z"), Some(ms + 250));
        assert_eq!(parse_rfc3339_ms("2026-11-22T12:30:00+02:00"), Some(ms));
        assert_eq!(parse_rfc3339_ms("2026-11-22T09:30:00-01:00"), Some(ms));
        for bad in [
            "2026-11-22",
            "2026-11-22T25:00:00Z",
            "2026-11-22T10:30Z",
            "2026-11-22T10:30+02:00",
            "2026-11-22T10:30:00",
            "x",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_days() {
        assert_eq!(parse_day_ms("1970-01-01"), Some(0));
        assert_eq!(parse_day_ms("2026-11-01"), Some(1_793_491_200_000));
        for bad in ["2026-13-01", "2026-02-30", "2026-1-01", "2026-11-01x", ""] {
            assert_eq!(parse_day_ms(bad), None, "{bad}");
        }
    }
}
