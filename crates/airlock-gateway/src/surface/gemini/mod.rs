//! Google's Gemini protocol: `POST /{version}/models/{model}:{method}`,
//! passed through to Gemini providers as bytes.

mod methods;
mod path;

pub use methods::{MethodCall, model_method, passthrough_get_model, passthrough_list_models};
pub use path::{ModelPath, parse_model_path};
