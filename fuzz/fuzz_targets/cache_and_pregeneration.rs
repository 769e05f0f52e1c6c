//! The response cache's key and the pre-generation file: a request body
//! keyed for every operation (no panic; the same body gives the same key)
//! and a job's file read as JSON Lines and as a JSON array (no panic; each
//! line is one item or one rejection). The first byte chooses which.
#![no_main]

use airlock_gateway::fuzzing::{cache_keys, pregeneration_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => cache_keys(rest),
        _ => pregeneration_file(rest),
    }
});
