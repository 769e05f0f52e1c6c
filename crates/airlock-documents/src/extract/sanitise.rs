//! Text made safe to keep and to send on: control characters stripped
//! (line breaks and tabs kept), and personal data redacted when a project
//! asks: email addresses, phone numbers and payment card numbers (those
//! that pass the Luhn check) become `[email]`, `[phone]` and `[card]`.

use std::sync::LazyLock;

use regex::Regex;

/// The text without control characters other than tab and line breaks.
pub fn strip_controls(text: String) -> String {
    let stray = |c: char| c.is_control() && !matches!(c, '\t' | '\n' | '\r');
    // Most text has none: given back as it came, not copied.
    if !text.chars().any(stray) {
        return text;
    }
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap()
});
/// Runs of 13 to 19 digits, with single spaces or dashes between.
static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").unwrap());
/// International (`+44 20 7946 0958`) or grouped (`(555) 123-4567`,
/// `555-123-4567`) numbers: 10 to 15 digits, or 7 and more after a `+` or
/// an area code in brackets (so a date, `2024-05-01`, is not one).
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}\b").unwrap()
});

/// The text with email addresses, card numbers and phone numbers
/// replaced, in that order (a card number is not taken for a phone's).
pub fn redact_personal_data(text: &str) -> String {
    let text = EMAIL.replace_all(text, "[email]");
    let text = CARD.replace_all(&text, |found: &regex::Captures| {
        let digits: Vec<u32> = found[0].chars().filter_map(|c| c.to_digit(10)).collect();
        match luhn(&digits) {
            true => "[card]".to_string(),
            false => found[0].to_string(),
        }
    });
    PHONE
        .replace_all(&text, |found: &regex::Captures| {
            let digits = found[0].chars().filter(char::is_ascii_digit).count();
            let marked = found[0].starts_with(['+', '(']);
            match (10..=15).contains(&digits) || (marked && (7..=15).contains(&digits)) {
                true => "[phone]".to_string(),
                false => found[0].to_string(),
            }
        })
        .into_owned()
}

/// Personal data and an operator's own patterns redacted from text (logged
/// content): [`redact_personal_data`] first, then every match of each
/// pattern becomes `[redacted]`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    patterns: Vec<Regex>,
}

impl Redactor {
    /// A redactor of these regular expressions (Rust's `regex` syntax); an
    /// invalid one is refused, named with what is wrong.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Redactor, String> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                let pattern = pattern.as_ref();
                Regex::new(pattern)
                    .map_err(|error| format!("`{pattern}` is not a valid regex: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Redactor { patterns })
    }

    /// The text with personal data and every pattern's matches replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut text = redact_personal_data(text);
        for pattern in &self.patterns {
            if let std::borrow::Cow::Owned(replaced) = pattern.replace_all(&text, "[redacted]") {
                text = replaced;
            }
        }
        text
    }
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(at, &digit)| match at % 2 {
            1 if digit * 2 > 9 => digit * 2 - 9,
            1 => digit * 2,
            _ => digit,
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redactor_takes_personal_data_and_its_own_patterns_and_refuses_a_bad_one() {
        let redactor = Redactor::new(&[r"ORDER-\d+", r"(?i)secret\s+\w+"]).unwrap();
        assert_eq!(
            redactor.redact("mail ana@example.com about ORDER-123, Secret plans"),
            "mail [email] about [redacted], [redacted]"
        );
        let refused = Redactor::new(&["(unclosed"]).unwrap_err();
        assert!(
            refused.contains("`(unclosed` is not a valid regex"),
            "{refused}"
        );
    }

    #[test]
    fn control_characters_go_and_line_breaks_stay() {
        assert_eq!(
            strip_controls("a\u{0}b\u{7}c\td\r\ne\u{9f}".to_string()),
            "abc\td\r\ne"
        );
    }

    #[test]
    fn emails_phones_and_cards_are_redacted() {
        let text = "Write to ada.l@example.co.uk or call +44 20 7946 0958 or (555) 123-4567; \
                    card 4111 1111 1111 1111, order 1234567890123 and 2024-05-01.";
        let redacted = redact_personal_data(text);
        assert_eq!(
            redacted,
            "Write to [email] or call [phone] or [phone]; \
             card [card], order 1234567890123 and 2024-05-01."
        );
    }

    #[test]
    fn text_without_personal_data_is_unchanged() {
        let text = "Chapter 3, page 12: the 1990s saw 25 % growth.";
        assert_eq!(redact_personal_data(text), text);
    }
}
