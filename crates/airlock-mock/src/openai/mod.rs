//! The simulated OpenAI API (chat completions, the Responses API,
//! embeddings, models).

pub mod caching;
pub mod catalog;
pub mod checks;
pub mod completion;
pub mod embeddings;
pub mod errors;
pub mod params;
pub mod request;
pub mod responses;
pub mod routes;
pub mod validate;
