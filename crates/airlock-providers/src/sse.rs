//! Incremental Server-Sent Events parsing.
//!
//! Bytes arrive in arbitrary pieces; the parser hands back each complete event
//! as soon as its blank line arrives, with the event's raw bytes (to forward
//! unchanged) and its joined `data:` lines (to read).

use bytes::{Bytes, BytesMut};

/// One complete event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event exactly as received, terminator included.
    pub raw: Bytes,
    /// The `data:` lines joined with `\n`; empty when the event had none.
    pub data: String,
}

#[derive(Default)]
pub struct SseParser {
    buffer: BytesMut,
    /// Where the scan for the next line end resumes.
    scanned: usize,
    /// Start of the current line within `buffer`.
    line_start: usize,
    data: String,
    has_data: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events they complete.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some((line_end, next_start)) = self.next_line_end() {
            let line = &self.buffer[self.line_start..line_end];
            if line.is_empty() {
                let raw = self.buffer.split_to(next_start).freeze();
                events.push(SseEvent {
                    raw,
                    data: std::mem::take(&mut self.data),
                });
                self.has_data = false;
                self.line_start = 0;
                self.scanned = 0;
                continue;
            }
            if let Some(value) = line.strip_prefix(b"data:") {
                let value = value.strip_prefix(b" ").unwrap_or(value);
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            self.line_start = next_start;
            self.scanned = next_start;
        }
        events
    }

    /// Bytes received after the last complete event (an unterminated tail).
    pub fn remainder(&self) -> &[u8] {
        &self.buffer
    }

    /// Finds the next line ending at or after `scanned`: `\n`, `\r\n` or a lone `\r`.
    fn next_line_end(&mut self) -> Option<(usize, usize)> {
        let bytes = &self.buffer[..];
        let mut i = self.scanned;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => return Some((i, i + 1)),
                b'\r' => {
                    // A `\r` at the very end may be the first half of `\r\n`: wait.
                    if i + 1 == bytes.len() {
                        self.scanned = i;
                        return None;
                    }
                    let next = if bytes[i + 1] == b'\n' { i + 2 } else { i + 1 };
                    return Some((i, next));
                }
                _ => i += 1,
            }
        }
        self.scanned = i;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_arbitrary_pieces() {
        let stream = b"data: {\"a\":1}\r\n\r\ndata: x\ndata: y\n\n: comment\n\ndata: [DONE]\n\n";
        for piece in 1..stream.len() {
            let mut parser = SseParser::new();
            let mut events = Vec::new();
            for chunk in stream.chunks(piece) {
                events.extend(parser.push(chunk));
            }
            let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
            assert_eq!(
                data,
                ["{\"a\":1}", "x\ny", "", "[DONE]"],
                "piece size {piece}"
            );
            let raw: Vec<u8> = events.iter().flat_map(|e| e.raw.to_vec()).collect();
            assert_eq!(raw, stream.to_vec());
            assert!(parser.remainder().is_empty());
        }
    }

    #[test]
    fn keeps_an_unterminated_tail() {
        let mut parser = SseParser::new();
        assert!(parser.push(b"data: partial").is_empty());
        assert_eq!(parser.remainder(), b"data: partial");
    }
}
