//! The durable request log's write-ahead log segments, read back at every
//! start as replay reads them: frames (length, CRC-32C, a JSON record) after
//! the segment's magic, a torn or corrupt tail dropped. Input: a segment
//! file's bytes. Properties: no panic, and the frames kept frame again into
//! the same frames with nothing dropped.
#![no_main]

use airlock_store::fuzzing::read_wal_segment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    read_wal_segment(data);
});
