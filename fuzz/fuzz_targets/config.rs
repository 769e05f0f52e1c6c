//! The configuration loader: a TOML file's text parsed (every syntax and
//! type error reported, bad lines blanked) and resolved into `Settings`,
//! with `env:` secrets read from a stand-in environment. The binary's
//! `config` module is compiled in here by path: `airlock` is a binary crate,
//! and its loader depends on nothing else of it. Input: the file's text.
//! Files naming `file:` secrets are skipped (they would read the disk).
//! Properties: no panic, and every problem's line is one of the file's.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/airlock/src/config/mod.rs"]
mod config;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("file:") {
        return;
    }
    // Building webhook and JWKS clients needs the process's TLS provider.
    airlock_providers::install_crypto_provider();
    let env = |name: &str| (!name.starts_with("UNSET")).then(|| format!("value-of-{name}"));
    let overrides = config::Overrides::default();
    if let Err(problems) = config::load_source(Some(text), &overrides, &env) {
        let lines = text.split('\n').count();
        for problem in problems {
            assert!(
                problem.line.is_none_or(|line| (1..=lines).contains(&line)),
                "{problem}"
            );
        }
    }
});
