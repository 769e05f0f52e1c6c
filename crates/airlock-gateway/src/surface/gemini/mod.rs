//! Google's Gemini protocol: `POST /{version}/models/{model}:{method}`,
//! passed through to Gemini providers as bytes.

pub mod batches;
pub mod files;
pub mod interactions;
mod methods;
mod path;

pub use methods::{MethodAddress, passthrough_get_model, passthrough_list_models, read_request};
pub use path::{GeminiMethod, ModelPath, parse_model_path};

/// The Gemini API versions served (google-genai 3.x defaults to v1).
pub const VERSIONS: [&str; 3] = ["v1", "v1beta", "v1alpha"];
