//! Parsing `{model}:{method}` from a Gemini path, refusing path tricks.

use crate::error::ApiError;

/// What follows `/{version}/models/`.
#[derive(Debug, PartialEq, Eq)]
pub enum ModelPath<'a> {
    /// `gemini-2.5-flash:generateContent`
    Method {
        model: &'a str,
        method: GeminiMethod,
    },
    /// `gemini-2.5-flash`
    Model(&'a str),
}

/// The model methods Airlock relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeminiMethod {
    GenerateContent,
    StreamGenerateContent,
    CountTokens,
    EmbedContent,
    BatchEmbedContents,
}

impl GeminiMethod {
    fn parse(name: &str) -> Option<GeminiMethod> {
        Some(match name {
            "generateContent" => GeminiMethod::GenerateContent,
            "streamGenerateContent" => GeminiMethod::StreamGenerateContent,
            "countTokens" => GeminiMethod::CountTokens,
            "embedContent" => GeminiMethod::EmbedContent,
            "batchEmbedContents" => GeminiMethod::BatchEmbedContents,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            GeminiMethod::GenerateContent => "generateContent",
            GeminiMethod::StreamGenerateContent => "streamGenerateContent",
            GeminiMethod::CountTokens => "countTokens",
            GeminiMethod::EmbedContent => "embedContent",
            GeminiMethod::BatchEmbedContents => "batchEmbedContents",
        }
    }
}

/// Longest model name accepted.
const MAX_MODEL_NAME: usize = 128;

/// A model name is letters, digits, `.`, `_` and `-`, and never `..`: so a
/// decoded `%2F` or `../` cannot reach another upstream path.
pub fn check_model_name(model: &str) -> Result<(), ApiError> {
    let valid = !model.is_empty()
        && model.len() <= MAX_MODEL_NAME
        && !model.contains("..")
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::BadRequest {
            message: "Invalid model name: use letters, digits, '.', '_' and '-'.".into(),
            param: Some("model".into()),
        })
    }
}

/// The methods of Google's retired Imagen and Veo models.
const RETIRED_METHODS: [&str; 2] = ["predict", "predictLongRunning"];

pub fn parse_model_path(rest: &str) -> Result<ModelPath<'_>, ApiError> {
    match rest.rsplit_once(':') {
        Some((model, method)) => {
            check_model_name(model)?;
            if RETIRED_METHODS.contains(&method) {
                // Imagen (and Veo's long-running predictions) were retired
                // by Google: its 404 for a model that is no longer there.
                return Err(ApiError::ModelNotFound {
                    model: model.to_string(),
                });
            }
            let method = GeminiMethod::parse(method).ok_or_else(|| ApiError::BadRequest {
                message: format!(
                    "Method '{}' is not supported by this gateway.",
                    truncate(method)
                ),
                param: None,
            })?;
            Ok(ModelPath::Method { model, method })
        }
        None => {
            check_model_name(rest)?;
            Ok(ModelPath::Model(rest))
        }
    }
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_methods_and_models() {
        assert_eq!(
            parse_model_path("gemini-2.5-flash:streamGenerateContent").unwrap(),
            ModelPath::Method {
                model: "gemini-2.5-flash",
                method: GeminiMethod::StreamGenerateContent
            }
        );
        assert_eq!(
            parse_model_path("gemini-2.5-flash").unwrap(),
            ModelPath::Model("gemini-2.5-flash")
        );
    }

    #[test]
    fn refuses_path_tricks_and_unknown_methods() {
        for bad in [
            "../secrets:generateContent",
            "a/b:generateContent",
            "..",
            "",
            "x:launchMissiles",
            "a%2Fb",
        ] {
            assert!(parse_model_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_retired_imagen_and_veo_methods_are_a_missing_model() {
        for path in [
            "imagen-4.0-generate-001:predict",
            "veo-3.0-generate-001:predictLongRunning",
        ] {
            let error = parse_model_path(path).unwrap_err();
            assert_eq!(error.status(), http::StatusCode::NOT_FOUND, "{path}");
        }
    }
}
