//! airlock-receipts' integration tests: published test vectors, property
//! checks against a naive RFC 6962 reference, and cross-checks with
//! independent C2SP implementations (`signed_note`, `tlog_tiles`).

mod interop;
mod known_answers;
mod notes;
mod reference;
mod support;
mod tiles_and_proofs;
