//! HTML's text: `ammonia` removes scripts, styles and every attribute
//! (event handlers, styles, links), keeping only block elements, which
//! become line breaks; entities are decoded. Nesting past the limit is
//! refused before the page is parsed.

use std::collections::HashSet;

use super::{Limits, Refusal};

/// Elements kept long enough to become line breaks.
const BLOCKS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "table",
];
/// Elements removed with everything inside them.
const REMOVED: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "object",
];
/// Elements that never have an end tag.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

pub(super) fn text(html: &str, limits: &Limits) -> Result<String, Refusal> {
    check_depth(html, limits.max_depth)?;
    let cleaned = ammonia::Builder::empty()
        .tags(BLOCKS.iter().copied().collect::<HashSet<_>>())
        .clean_content_tags(REMOVED.iter().copied().collect::<HashSet<_>>())
        .clean(html)
        .to_string();
    // What is left is well formed and has no attributes: tags are
    // `<name>` or `</name>`, each a line break.
    let mut text = String::with_capacity(cleaned.len());
    let mut rest = cleaned.as_str();
    while let Some(at) = rest.find('<') {
        text.push_str(&rest[..at]);
        let Some(end) = rest[at..].find('>') else {
            break;
        };
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        rest = &rest[at + end + 1..];
    }
    text.push_str(rest);
    Ok(decode_entities(&text))
}

/// The entities html5ever's serialiser writes in text.
fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Refuses a page whose elements nest deeper than `limit` (counted from
/// its tags, void elements and self-closed ones aside).
fn check_depth(html: &str, limit: usize) -> Result<(), Refusal> {
    let bytes = html.as_bytes();
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(offset) = memchr_lt(&bytes[at..]) {
        at += offset + 1;
        let closing = bytes.get(at) == Some(&b'/');
        let name_start = at + usize::from(closing);
        let name_len = bytes[name_start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        if name_len == 0 {
            continue;
        }
        let name = html[name_start..name_start + name_len].to_ascii_lowercase();
        let self_closed = html[name_start..]
            .find('>')
            .is_some_and(|end| html[name_start..name_start + end].ends_with('/'));
        if closing {
            depth = depth.saturating_sub(1);
        } else if !VOID.contains(&name.as_str()) && !self_closed {
            depth += 1;
            if depth > limit {
                return Err(Refusal::TooDeep { limit });
            }
        }
    }
    Ok(())
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_styles_and_handlers_go_and_blocks_become_lines() {
        let page = "<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style>\
                    <script>alert('x')</script></head><body onload=\"steal()\">\
                    <h1>Heading</h1><p onclick=\"evil()\">One &amp; <b>two</b></p>\
                    <ul><li>first</li><li>second</li></ul><noscript>no</noscript></body></html>";
        let text = text(page, &Limits::default()).unwrap();
        for gone in [
            "alert",
            "color:red",
            "steal",
            "evil",
            "onclick",
            "<",
            "no\n",
        ] {
            assert!(!text.contains(gone), "{gone:?} in {text:?}");
        }
        assert!(text.contains("Heading\nOne & two\n"), "{text:?}");
        assert!(text.contains("first\nsecond"), "{text:?}");
    }

    #[test]
    fn escaped_markup_in_text_stays_text() {
        let text = text("<p>1 &lt; 2 &amp;&amp; a &gt; b</p>", &Limits::default()).unwrap();
        assert_eq!(text.trim(), "1 < 2 && a > b");
    }

    #[test]
    fn nesting_past_the_limit_is_refused_and_void_elements_do_not_count() {
        let deep = "<div>".repeat(300);
        assert_eq!(
            text(&deep, &Limits::default()),
            Err(Refusal::TooDeep { limit: 256 })
        );
        let flat = "<br><img src=x><hr/>".repeat(1000);
        assert!(text(&flat, &Limits::default()).is_ok());
    }
}
