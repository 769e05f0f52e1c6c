//! Keys already worked out, found again by a digest of the request as
//! sent: a request repeated byte for byte (what most hits are) skips
//! parsing its body and writing its canonical form. A key is remembered
//! once it has found an answer, so a miss pays one lookup here and no
//! insert.

use super::key::{KeyInput, Keyed, NotCacheable, cache_key, raw_digest};

/// How many requests' keys are remembered (about 100 bytes each).
const REMEMBERED: u64 = 16_384;

/// Keys by [`raw_digest`], bounded (least recently used go first).
pub(crate) struct KeyMemo(moka::sync::Cache<[u8; 32], Keyed>);

/// A key worked out rather than remembered: what
/// [`KeyMemo::remember`] needs to remember it.
pub(crate) struct WorkedOut(Option<[u8; 32]>);

impl Default for KeyMemo {
    fn default() -> Self {
        KeyMemo(moka::sync::Cache::new(REMEMBERED))
    }
}

impl KeyMemo {
    /// The request's key ([`cache_key`]): remembered, or worked out (a
    /// multipart form's always: its parts are already read apart, and not
    /// held as sent).
    pub(crate) fn key(&self, input: &KeyInput<'_>) -> (Result<Keyed, NotCacheable>, WorkedOut) {
        let digest = raw_digest(input);
        if let Some(known) = digest.and_then(|digest| self.0.get(&digest)) {
            return (Ok(known), WorkedOut(None));
        }
        (cache_key(input), WorkedOut(digest))
    }

    /// Remembers a key worked out, found to have an answer.
    pub(crate) fn remember(&self, worked_out: WorkedOut, keyed: Keyed) {
        if let WorkedOut(Some(digest)) = worked_out {
            self.0.insert(digest, keyed);
        }
    }

    #[cfg(test)]
    fn remembered(&self) -> u64 {
        self.0.run_pending_tasks();
        self.0.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::Operation;

    fn input<'a>(project_id: Option<&'a str>, body: &'a [u8]) -> KeyInput<'a> {
        KeyInput {
            project_id,
            operation: Operation::ChatCompletions,
            provider: "openai",
            upstream_model: "gpt-4o-mini",
            body,
            upload: None,
            stream: false,
            sse: false,
        }
    }

    #[test]
    fn a_remembered_key_is_the_key_worked_out_for_the_same_request() {
        let memo = KeyMemo::default();
        let bodies: [&[u8]; 3] = [
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0}"#,
            br#"{"temperature":0,"messages":[{"content":"hi","role":"user"}],"model":"m"}"#,
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        ];
        let pair = |keyed: Keyed| (keyed.key, keyed.random);
        for project in [None, Some("p1"), Some("p2")] {
            for body in bodies {
                let request = input(project, body);
                let expected = pair(cache_key(&request).unwrap());
                let (first, worked_out) = memo.key(&request);
                assert_eq!(pair(first.unwrap()), expected);
                assert!(
                    worked_out.0.is_some(),
                    "not remembered before it is told to"
                );
                memo.remember(worked_out, first.unwrap());
                let (again, worked_out) = memo.key(&request);
                assert_eq!(pair(again.unwrap()), expected);
                assert!(worked_out.0.is_none(), "remembered");
            }
        }
        assert_eq!(memo.remembered(), 9);
        // The first two bodies differ only in order: one key, remembered
        // under two digests; another project's is another key.
        let key = |project, body| memo.key(&input(project, body)).0.unwrap().key;
        assert_eq!(key(Some("p1"), bodies[0]), key(Some("p1"), bodies[1]));
        assert_ne!(key(Some("p1"), bodies[0]), key(Some("p2"), bodies[0]));
        assert_ne!(key(Some("p1"), bodies[0]), key(None, bodies[0]));
    }

    #[test]
    fn a_key_not_remembered_is_worked_out_each_time() {
        let memo = KeyMemo::default();
        let request = input(Some("p1"), br#"{"model":"m","messages":[]}"#);
        for _ in 0..2 {
            let (keyed, worked_out) = memo.key(&request);
            assert_eq!(keyed.unwrap().key, cache_key(&request).unwrap().key);
            assert!(worked_out.0.is_some());
        }
        let not_an_object = input(None, b"[1, 2]");
        assert_eq!(
            memo.key(&not_an_object).0.err(),
            cache_key(&not_an_object).err()
        );
        assert_eq!(memo.remembered(), 0);
    }
}
