//! Airlock's upstreams.
//!
//! Owns everything about talking to model providers: one adapter per provider
//! kind behind [`ProviderAdapter`], the provider key pool, the upstream HTTP
//! client with key rotation, SSE parsing, usage extraction and the
//! OpenAI ⇄ Gemini translation. Must not see axum or any server type: the
//! gateway hands it bytes and gets bytes and typed errors back.

mod adapter;
pub mod answer;
pub mod audio;
pub mod catalog;
mod client;
pub mod gemini;
mod keys;
pub mod media;
pub mod openai;
pub mod openai_compatible;
pub mod pricing;
mod provider;
mod reachability;
pub mod realtime;
mod secret;
pub mod sse;
mod timeouts;
pub mod translate;
pub mod usage;

pub use adapter::{KeyVerdict, Protocol, ProviderAdapter, ProviderKind, UpstreamCall};
pub use client::{HttpClient, install_crypto_provider};
pub use keys::{KeyPool, KeyStatus};
pub use provider::{
    ByteStream, Provider, ProviderError, StreamBroken, UpstreamBody, UpstreamResponse,
};
pub use secret::Secret;
pub use timeouts::{Seconds, TimeoutKind, Timeouts};
