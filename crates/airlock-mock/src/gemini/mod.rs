//! The simulated Gemini API (generativelanguage.googleapis.com REST).

pub mod caching;
pub mod catalog;
pub mod compose;
pub mod embed;
pub mod errors;
pub mod generate;
pub mod grounding;
pub mod imaging;
pub mod listening;
pub mod media;
pub mod proto;
pub mod request;
pub mod routes;
pub mod search;
pub mod signatures;
pub mod speech;
pub mod thinking;
pub mod url_context;
pub mod validate;
