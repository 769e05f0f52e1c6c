//! The file's text into [`FileConfig`], reporting every syntax and type error
//! in one pass rather than the first alone.
//!
//! TOML parsing stops at its first error. To go on, the lines that error
//! spans are blanked (their line breaks kept, so every later line keeps its
//! number) and the text is parsed again, until it parses or nothing is left
//! to blank. A later "missing field" for a key that was blanked is the same
//! problem again, and is not reported twice.

use super::Problem;
use super::file::FileConfig;

/// More passes than any real file has errors; a bound all the same.
const MAX_PASSES: usize = 200;

/// The parsed file, or every problem found while parsing it. With problems,
/// `FileConfig` is what remains once the bad lines are left out, so the
/// caller can check the rest too.
pub(super) fn parse(source: &str) -> (Option<FileConfig>, Vec<Problem>) {
    let mut text = source.to_string();
    let mut problems: Vec<Problem> = Vec::new();
    let mut blanked_keys: Vec<String> = Vec::new();
    for _ in 0..MAX_PASSES {
        let error = match toml::from_str::<FileConfig>(&text) {
            Ok(file) => {
                problems.sort_by_key(|problem| problem.line);
                return (Some(file), problems);
            }
            Err(error) => error,
        };
        let message = error.message().trim().to_string();
        let Some(span) = error.span() else {
            problems.push(Problem {
                line: None,
                message,
            });
            return (None, problems);
        };
        let repeated = missing_field(&message)
            .is_some_and(|field| blanked_keys.iter().any(|key| key == field));
        if !repeated {
            problems.push(Problem {
                line: Some(super::line_of(&text, span.start)),
                message,
            });
        }
        match blank_lines(&mut text, span) {
            Some(keys) => blanked_keys.extend(keys),
            None => break,
        }
    }
    problems.sort_by_key(|problem| problem.line);
    (None, problems)
}

/// `missing field `name`` → `name`.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Blanks the whole lines `span` touches (a table's span takes in its
/// header), keeping line breaks. Returns the keys those lines assigned, or
/// `None` when they were blank already.
fn blank_lines(text: &mut String, span: std::ops::Range<usize>) -> Option<Vec<String>> {
    let first = char_start(text, span.start);
    // A syntax error's span may be the line break that ends its line (or
    // end in a character of several bytes).
    let last = char_start(text, span.end.saturating_sub(1).max(first));
    let start = text[..first].rfind('\n').map_or(0, |at| at + 1);
    let mut end = text[last..].find('\n').map_or(text.len(), |at| last + at);
    // A table whose header cannot be read is left out up to the next header.
    if text[start..end].trim_start().starts_with('[') {
        end = next_header(text, end).map_or(text.len(), |at| at.saturating_sub(1));
    }
    let region = &text[start..end];
    if region.trim().is_empty() {
        return None;
    }
    let keys = region
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, _)| key.trim().trim_matches('"').to_string())
        .collect();
    let blank: String = region
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    text.replace_range(start..end, &blank);
    Some(keys)
}

/// The start of the character at byte `at` of `text` (its end, past it).
fn char_start(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Where the next line that opens a table starts, after `from`.
fn next_header(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    for line in text[from..].split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            return Some(at);
        }
        at += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(text: &str) -> Vec<String> {
        parse(text).1.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reports_every_syntax_and_type_error_in_line_order() {
        let text = "[server]\nlistn = \"127.0.0.1:1\"\nmax_body_bytes = \"big\"\n\n\
                    [[providers]]\nname = \"g\"\nkind = 3\n\n\
                    [realtime]\nmax_session_secs = -1\n\n\
                    [alerts\nwebhook_url = 1\n";
        let problems = rendered(text);
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems[0].starts_with("line 2: unknown field `listn`"),
            "{problems:?}"
        );
        assert_eq!(
            problems[1],
            "line 3: invalid type: string \"big\", expected usize"
        );
        assert_eq!(
            problems[2],
            "line 7: invalid type: integer `3`, expected a string"
        );
        assert_eq!(
            problems[3],
            "line 10: invalid value: integer `-1`, expected u64"
        );
        // The unreadable table is left out whole: its contents are not guessed at.
        assert!(
            problems[4].starts_with("line 12: invalid table header"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_blanked_field_is_not_reported_again_as_missing() {
        let (file, problems) = parse("[[routes]]\nmodel = 1\nprovider = \"g\"\n");
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            ["line 2: invalid type: integer `1`, expected a string"]
        );
        assert!(file.expect("the rest parses").routes.is_empty());
    }

    #[test]
    fn a_table_missing_a_field_is_left_out_and_the_rest_kept() {
        let (file, problems) =
            parse("[[routes]]\nprovider = \"x\"\n\n[server]\nlisten = \"127.0.0.1:1\"\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(1));
        assert_eq!(problems[0].message, "missing field `model`");
        let file = file.expect("the rest parses");
        assert!(file.routes.is_empty());
        assert_eq!(file.server.listen.unwrap().get_ref(), "127.0.0.1:1");
    }

    #[test]
    fn an_error_ending_inside_a_wide_character_is_reported() {
        // Found by the `config` fuzz target: the error's span ended inside
        // the two bytes of `ޚ`, and blanking its lines panicked.
        for text in [
            "[server]\nmax_body_bytes = \u{79a}nline-key\"]\n",
            "[servgr]\nlisten = \"0.0.0.0:99999\"\nmax_body_bytes = \u{79a}nline-key\"]\n\n\
             [[routes]]\nmodel = \"a*b\"\nprovider P= \"nowhere\"ZZZZ\n",
        ] {
            let (_, problems) = parse(text);
            assert!(!problems.is_empty(), "{text}");
            assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
        }
    }

    #[test]
    fn a_clean_file_has_no_problems() {
        let (file, problems) = parse("[server]\nlisten = \"127.0.0.1:1\"\n");
        assert!(problems.is_empty());
        assert!(file.is_some());
    }
}
