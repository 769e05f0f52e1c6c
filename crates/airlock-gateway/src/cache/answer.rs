//! A cached answer as the client got it: its status, content type and
//! body (one body, or a stream's chunks in the caller's protocol, framing
//! and usage chunk included), the tokens it took and what it cost.
//!
//! A stream's chunks are kept as one byte string for storage: each chunk
//! as a 4-byte big-endian length and its bytes.

use bytes::{Buf, Bytes};
use http::{HeaderValue, StatusCode};

/// A complete answer, or a stream's chunks, ready to be given again.
#[derive(Clone, Debug)]
pub(crate) struct CachedAnswer {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub body: CachedBody,
    pub tokens: Tokens,
    /// What the answer cost when it was made: what a hit saves.
    pub cost_usd: Option<f64>,
}

/// The body of a cached answer.
#[derive(Clone, Debug)]
pub(crate) enum CachedBody {
    Whole(Bytes),
    /// A stream's chunks, in order.
    Chunks(Vec<Bytes>),
}

/// The token counts the answer was made with, for hits' records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_input: Option<i64>,
}

impl CachedBody {
    /// Its bytes as stored: a whole body as it is, chunks length-prefixed.
    pub(crate) fn encode(&self) -> Bytes {
        match self {
            CachedBody::Whole(bytes) => bytes.clone(),
            CachedBody::Chunks(chunks) => {
                let size = chunks.iter().map(|c| 4 + c.len()).sum();
                let mut out = Vec::with_capacity(size);
                for chunk in chunks {
                    let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(&chunk[..len as usize]);
                }
                out.into()
            }
        }
    }

    /// A stored body read back; `None` when a stream's chunks do not add
    /// up (a damaged entry, taken for a miss).
    pub(crate) fn decode(streamed: bool, mut stored: Bytes) -> Option<CachedBody> {
        if !streamed {
            return Some(CachedBody::Whole(stored));
        }
        let mut chunks = Vec::new();
        while stored.has_remaining() {
            if stored.remaining() < 4 {
                return None;
            }
            let len = stored.get_u32() as usize;
            if stored.remaining() < len {
                return None;
            }
            chunks.push(stored.split_to(len));
        }
        Some(CachedBody::Chunks(chunks))
    }

    /// Its size in bytes as stored.
    pub(crate) fn size(&self) -> usize {
        match self {
            CachedBody::Whole(bytes) => bytes.len(),
            CachedBody::Chunks(chunks) => chunks.iter().map(|c| 4 + c.len()).sum(),
        }
    }

    pub(crate) fn is_stream(&self) -> bool {
        matches!(self, CachedBody::Chunks(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streams_chunks_come_back_as_they_were_stored() {
        let chunks = vec![
            Bytes::from_static(b"data: {\"a\":1}\n\n"),
            Bytes::new(),
            Bytes::from_static(b"data: [DONE]\n\n"),
        ];
        let stored = CachedBody::Chunks(chunks.clone()).encode();
        assert_eq!(stored.len(), CachedBody::Chunks(chunks.clone()).size());
        match CachedBody::decode(true, stored) {
            Some(CachedBody::Chunks(read)) => assert_eq!(read, chunks),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_damaged_stream_entry_does_not_decode() {
        let mut stored = CachedBody::Chunks(vec![Bytes::from_static(b"abcdef")])
            .encode()
            .to_vec();
        stored.pop();
        assert!(CachedBody::decode(true, stored.into()).is_none());
        assert!(CachedBody::decode(true, Bytes::from_static(b"\0\0")).is_none());
    }

    #[test]
    fn a_whole_body_is_stored_as_it_is() {
        let body = Bytes::from_static(b"{\"id\":\"x\"}");
        assert_eq!(CachedBody::Whole(body.clone()).encode(), body);
        match CachedBody::decode(false, body.clone()) {
            Some(CachedBody::Whole(read)) => assert_eq!(read, body),
            other => panic!("{other:?}"),
        }
    }
}
