//! When each word and segment of a transcript is said, and the subtitle
//! formats built from the segments.
//!
//! Time is spread over the recording by characters: a piece of text that
//! starts at character `a` and ends at `b` of `n` lasts from `a/n` to `b/n`
//! of the recording — exactly when the simulator's voice says it (50 ms a
//! character), and evenly for other audio. Segments are sentences (ending
//! `.`, `!` or `?`), at most [`SEGMENT_WORDS`] words each.

/// The most words in a segment.
pub const SEGMENT_WORDS: usize = 24;

/// A piece of the transcript and when it is said.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

/// The words of `text` (without their spaces) said over `duration_ms`.
pub fn words(text: &str, duration_ms: u64) -> Vec<Timed> {
    spans(text, duration_ms)
        .into_iter()
        .map(|(word, start, end)| Timed {
            text: word.to_owned(),
            start,
            end,
        })
        .collect()
}

/// The segments of `text` (each its words joined by spaces).
pub fn segments(text: &str, duration_ms: u64) -> Vec<Timed> {
    let mut out: Vec<Timed> = Vec::new();
    let mut open = 0;
    for (word, start, end) in spans(text, duration_ms) {
        match out.last_mut() {
            Some(segment) if open > 0 && open < SEGMENT_WORDS => {
                segment.text.push(' ');
                segment.text.push_str(word);
                segment.end = end;
                open += 1;
            }
            _ => {
                out.push(Timed {
                    text: word.to_owned(),
                    start,
                    end,
                });
                open = 1;
            }
        }
        if word.ends_with(['.', '!', '?']) {
            open = 0;
        }
    }
    out
}

/// Each word with its start and end in seconds.
fn spans(text: &str, duration_ms: u64) -> Vec<(&str, f64, f64)> {
    let total = text.chars().count().max(1) as f64;
    let at = |chars: usize| chars as f64 * duration_ms as f64 / total / 1000.0;
    let mut out = Vec::new();
    let mut chars = 0;
    for piece in text.split(' ') {
        let len = piece.chars().count();
        if !piece.is_empty() {
            out.push((piece, at(chars), at(chars + len)));
        }
        chars += len + 1;
    }
    out
}

/// `HH:MM:SS` and the milliseconds of `seconds`.
fn clock(seconds: f64) -> (String, u64) {
    let ms = (seconds * 1000.0).round() as u64;
    let s = ms / 1000;
    (
        format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
        ms % 1000,
    )
}

/// SubRip: numbered cues, `00:00:01,500 --> 00:00:03,000`.
pub fn srt(segments: &[Timed]) -> String {
    segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ((a, am), (b, bm)) = (clock(s.start), clock(s.end));
            format!("{}\n{a},{am:03} --> {b},{bm:03}\n{}\n\n", i + 1, s.text)
        })
        .collect()
}

/// WebVTT: a `WEBVTT` header, then cues `00:00:01.500 --> 00:00:03.000`.
pub fn vtt(segments: &[Timed]) -> String {
    let cues: String = segments
        .iter()
        .map(|s| {
            let ((a, am), (b, bm)) = (clock(s.start), clock(s.end));
            format!("{a}.{am:03} --> {b}.{bm:03}\n{}\n\n", s.text)
        })
        .collect();
    format!("WEBVTT\n\n{cues}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_take_their_share_of_the_time() {
        // 10 characters over 500 ms: 50 ms each, as the voice says them.
        let w = words("Hi there !", 500);
        assert_eq!(w.len(), 3);
        assert_eq!((w[0].text.as_str(), w[0].start, w[0].end), ("Hi", 0.0, 0.1));
        assert_eq!((w[1].start, w[1].end), (0.15, 0.4));
        assert!(words("", 1000).is_empty());
    }

    #[test]
    fn segments_are_sentences() {
        let s = segments("One two. Three four five.", 2500);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].text, "One two.");
        assert_eq!((s[0].start, s[0].end), (0.0, 0.8));
        assert_eq!(s[1].text, "Three four five.");
        let long = vec!["word"; SEGMENT_WORDS + 1].join(" ");
        assert_eq!(segments(&long, 1000).len(), 2);
    }

    #[test]
    fn subtitle_formats() {
        let s = vec![
            Timed {
                text: "Hello.".into(),
                start: 0.0,
                end: 1.5,
            },
            Timed {
                text: "Bye.".into(),
                start: 61.25,
                end: 3725.0,
            },
        ];
        assert_eq!(
            srt(&s),
            "1\n00:00:00,000 --> 00:00:01,500\nHello.\n\n2\n00:01:01,250 --> 01:02:05,000\nBye.\n\n"
        );
        assert_eq!(
            vtt(&s),
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello.\n\n00:01:01.250 --> 01:02:05.000\nBye.\n\n"
        );
    }
}
