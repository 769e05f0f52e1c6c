//! The simulated OpenAI API (chat completions, the Responses API,
//! embeddings, models, images, speech and transcription).

pub mod audio;
pub mod caching;
pub mod catalog;
pub mod checks;
pub mod completion;
pub mod embeddings;
pub mod errors;
pub mod form;
pub mod images;
pub mod params;
pub mod request;
pub mod responses;
pub mod routes;
pub mod validate;
