//! Airlock's HTTP server.
//!
//! Owns the router and its middleware, client authentication, model routing,
//! the OpenAI and Gemini surfaces, stream relaying and the per-request record.
//! Must not run SQL (that is `airlock-store`) nor build provider URLs or parse
//! provider formats beyond what a surface relays (that is `airlock-providers`).

pub mod access_log;
mod admission;
pub mod alerts;
mod auth;
pub mod batches;
mod body;
mod body_budget;
mod body_guard;
pub mod cache;
pub mod clock;
mod connections;
pub mod constitution;
mod content_log;
mod context;
pub mod conversations;
mod cors;
pub mod dashboard;
mod dispatch;
pub mod end_user;
mod error;
mod exchange;
pub mod exports;
pub mod files;
mod framing;
/// The parsers' entry points for the fuzz targets under `fuzz/`; not an API.
#[doc(hidden)]
pub mod fuzzing;
pub mod jobs;
pub mod limits;
pub mod media;
mod metrics;
mod multipart;
pub mod pregen;
pub mod realtime;
pub mod receipts;
mod relay;
pub mod resilience;
pub mod retention;
pub mod routing;
pub mod self_request;
mod server;
mod server_policy;
mod state;
mod surface;
pub mod tenancy;
pub mod tls;
mod trace;
mod unread_body;
pub mod user_data;
mod watched_body;
pub mod webhook;
mod workers;

pub use auth::{ClientAuth, Credential, Principal};
pub use connections::cap_for_descriptor_limit;
pub use error::Surface;
pub use metrics::recorder as install_metrics_recorder;
pub use server::{router, serve};
pub use server_policy::ServerPolicy;
pub use state::{AppState, GatewayConfig};
pub use trace::enable_spans;
pub use workers::Listeners;
