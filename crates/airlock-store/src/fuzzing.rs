//! Entry points for the fuzz targets under `fuzz/` (hidden: not an API).
//! The write-ahead log's segments are read back at every start, whatever a
//! crash or a disk left in them.

use crate::wal;
use crate::{MediaRecord, RequestRecord, SessionRecord};

/// Reads a segment's bytes as replay does: its whole frames (a damaged
/// tail dropped), each decoded as a request, a session and a media
/// record. Checks that what was kept frames again into the same records
/// with nothing dropped. Returns how many frames were kept.
pub fn read_wal_segment(bytes: &[u8]) -> usize {
    let (payloads, _damage) = wal::frames(bytes);
    for payload in &payloads {
        let _ = serde_json::from_slice::<RequestRecord>(payload);
        let _ = serde_json::from_slice::<SessionRecord>(payload);
        let _ = serde_json::from_slice::<MediaRecord>(payload);
    }
    let mut again = wal::MAGIC.to_vec();
    for payload in &payloads {
        wal::push_frame(&mut again, payload);
    }
    let (reread, damage) = wal::frames(&again);
    assert_eq!(reread, payloads, "kept frames read back the same");
    assert!(damage.is_none(), "kept frames have no damaged tail");
    payloads.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_seeds_read_as_replay_reads_them() {
        let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/wal_segment");
        let kept =
            |name: &str| read_wal_segment(&std::fs::read(format!("{seeds}/{name}")).unwrap());
        assert_eq!(kept("empty"), 0);
        assert_eq!(kept("magic_only"), 0);
        assert_eq!(kept("two_records"), 2);
        assert_eq!(kept("torn_tail"), 1, "the torn second frame is dropped");
    }
}
