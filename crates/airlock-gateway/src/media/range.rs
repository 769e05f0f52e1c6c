//! The `Range` header of a media request, read as RFC 9110 says: one
//! `bytes=` range (first-last, first-, or -suffix) is served as a part;
//! several ranges, another unit or a malformed header get the whole
//! object (a server may ignore `Range`); a range that starts past the
//! end is unsatisfiable (416).

use std::ops::Range;

/// What of an object of a known size a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Whole,
    /// These bytes (end exclusive), within the object.
    Part(Range<u64>),
    Unsatisfiable,
}

/// Reads a `Range` header against an object of `size` bytes.
pub fn wanted(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix: the last `n` bytes.
        return match last.parse::<u64>() {
            Ok(0) => Wanted::Unsatisfiable,
            Ok(_) if size == 0 => Wanted::Unsatisfiable,
            Ok(n) => Wanted::Part(size.saturating_sub(n)..size),
            Err(_) => Wanted::Whole,
        };
    }
    let Ok(first) = first.parse::<u64>() else {
        return Wanted::Whole;
    };
    let end = match last {
        "" => size,
        last => match last.parse::<u64>() {
            Ok(last) if last >= first => last.saturating_add(1).min(size),
            _ => return Wanted::Whole,
        },
    };
    if first >= size {
        return Wanted::Unsatisfiable;
    }
    Wanted::Part(first..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_is_a_part_of_the_object() {
        assert_eq!(wanted(Some("bytes=0-99"), 1000), Wanted::Part(0..100));
        assert_eq!(wanted(Some("bytes=500-"), 1000), Wanted::Part(500..1000));
        assert_eq!(wanted(Some("bytes=-100"), 1000), Wanted::Part(900..1000));
        assert_eq!(
            wanted(Some("bytes=900-5000"), 1000),
            Wanted::Part(900..1000)
        );
        assert_eq!(wanted(Some("bytes=-5000"), 1000), Wanted::Part(0..1000));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(wanted(Some("bytes=1000-"), 1000), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=2000-3000"), 1000), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 1000), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);
    }

    #[test]
    fn anything_else_is_the_whole_object() {
        for header in [
            None,
            Some("items=0-1"),
            Some("bytes=0-1,5-6"),
            Some("bytes=abc"),
            Some("bytes=5-1"),
            Some("bytes=x-"),
        ] {
            assert_eq!(wanted(header, 1000), Wanted::Whole, "{header:?}");
        }
    }
}
