//! Canonical decimal numbers, as checkpoints and tile paths write them:
//! ASCII digits only, no sign, no leading zeros (but "0" itself).

/// The number `text` spells canonically, or `None`.
pub(crate) fn parse_canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_canonical_spelling() {
        assert_eq!(parse_canonical_decimal("0"), Some(0));
        assert_eq!(
            parse_canonical_decimal("18446744073709551615"),
            Some(u64::MAX)
        );
        for bad in [
            "",
            "00",
            "07",
            "+7",
            "-7",
            " 7",
            "7 ",
            "1e3",
            "18446744073709551616",
        ] {
            assert_eq!(parse_canonical_decimal(bad), None, "{bad:?}");
        }
    }
}
