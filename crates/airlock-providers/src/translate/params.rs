//! Reading an OpenAI request body: [`TranslateError`] and typed accessors that
//! fail with the wording and `param` OpenAI itself uses for the same mistake.
//!
//! Every accessor treats an explicit `null` like an absent field, because
//! OpenAI clients routinely send `"field": null` for "not set".

use serde_json::{Map, Value};

/// A request Airlock cannot translate. The gateway turns it into OpenAI's
/// 400 `invalid_request_error` carrying `param`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TranslateError {
    pub message: String,
    pub param: Option<String>,
}

impl TranslateError {
    pub(crate) fn new(message: impl Into<String>, param: Option<&str>) -> Self {
        Self {
            message: message.into(),
            param: param.map(str::to_owned),
        }
    }

    pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> Self {
        Self::new(
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                type_name(got)
            ),
            Some(param),
        )
    }

    pub(crate) fn invalid_value(param: &str, got: &str, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
        let list = match list.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, [only])) => format!("{only} and {last}"),
            Some((last, rest)) => format!("{}, and {last}", rest.join(", ")),
            None => String::new(),
        };
        Self::new(
            format!("Invalid value: '{got}'. Supported values are: {list}."),
            Some(param),
        )
    }

    pub(crate) fn missing(param: &str) -> Self {
        Self::new(
            format!("Missing required parameter: '{param}'."),
            Some(param),
        )
    }

    pub(crate) fn unsupported(param: &str) -> Self {
        Self::new(
            format!("Unsupported parameter: '{param}' is not supported with this model."),
            Some(param),
        )
    }

    pub(crate) fn unrecognized(name: &str) -> Self {
        Self::new(
            format!("Unrecognized request argument supplied: {name}"),
            None,
        )
    }
}

/// OpenAI's name for a JSON value's type, as used in "got a string instead".
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object of the request at a known path (`""` for the body,
/// `messages[2]` for a message, ...), with typed field accessors.
pub(crate) struct Params<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Params<'a> {
    /// `value` must be an object; `path` names it in errors.
    pub(crate) fn of(value: &'a Value, path: impl Into<String>) -> Result<Self, TranslateError> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Self { map, path }),
            other => Err(TranslateError::invalid_type(&path, "an object", other)),
        }
    }

    /// The dotted path of `key` inside this object, for error messages.
    pub(crate) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }

    /// The field's value, `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn required(&self, key: &str) -> Result<&'a Value, TranslateError> {
        self.get(key)
            .ok_or_else(|| TranslateError::missing(&self.path(key)))
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<&'a str>, TranslateError> {
        self.typed(key, "a string", Value::as_str)
    }

    pub(crate) fn required_string(&self, key: &str) -> Result<&'a str, TranslateError> {
        self.string(key)?
            .ok_or_else(|| TranslateError::missing(&self.path(key)))
    }

    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>, TranslateError> {
        self.typed(key, "a boolean", Value::as_bool)
    }

    pub(crate) fn integer(&self, key: &str) -> Result<Option<i64>, TranslateError> {
        self.typed(key, "an integer", Value::as_i64)
    }

    /// A number, returned as the original JSON value so that `0.7` stays `0.7`.
    pub(crate) fn number(&self, key: &str) -> Result<Option<&'a Value>, TranslateError> {
        self.typed(key, "a number", |v| v.is_number().then_some(v))
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, TranslateError> {
        self.typed(key, "an array", Value::as_array)
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, TranslateError> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => read(value)
                .map(Some)
                .ok_or_else(|| TranslateError::invalid_type(&self.path(key), expected, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_is_absent() {
        let body = json!({"a": null});
        let p = Params::of(&body, "").unwrap();
        assert!(p.get("a").is_none());
        assert_eq!(p.string("a").unwrap(), None);
        assert_eq!(
            p.required("a").unwrap_err().message,
            "Missing required parameter: 'a'."
        );
    }

    #[test]
    fn type_errors_name_the_nested_param() {
        let body = json!({"temperature": "hot", "n": 1.5, "flag": 1});
        let p = Params::of(&body, "messages[1]").unwrap();
        let err = p.number("temperature").unwrap_err();
        assert_eq!(
            err.message,
            "Invalid type for 'messages[1].temperature': expected a number, but got a string instead."
        );
        assert_eq!(err.param.as_deref(), Some("messages[1].temperature"));
        assert_eq!(
            p.integer("n").unwrap_err().message,
            "Invalid type for 'messages[1].n': expected an integer, but got a decimal instead."
        );
        assert_eq!(
            p.boolean("flag").unwrap_err().message,
            "Invalid type for 'messages[1].flag': expected a boolean, but got an integer instead."
        );
    }

    #[test]
    fn non_object_is_an_error() {
        let err = Params::of(&json!([1]), "messages[0]").err().unwrap();
        assert_eq!(
            err.message,
            "Invalid type for 'messages[0]': expected an object, but got an array instead."
        );
    }

    #[test]
    fn invalid_value_lists_choices_like_openai() {
        let err =
            TranslateError::invalid_value("messages[2].role", "bot", &["system", "user", "tool"]);
        assert_eq!(
            err.message,
            "Invalid value: 'bot'. Supported values are: 'system', 'user', and 'tool'."
        );
        let one = TranslateError::invalid_value("x", "y", &["function"]);
        assert_eq!(
            one.message,
            "Invalid value: 'y'. Supported values are: 'function'."
        );
        let two = TranslateError::invalid_value("x", "y", &["wav", "mp3"]);
        assert_eq!(
            two.message,
            "Invalid value: 'y'. Supported values are: 'wav' and 'mp3'."
        );
    }

    #[test]
    fn unrecognized_has_no_param() {
        let err = TranslateError::unrecognized("top_k");
        assert_eq!(
            err.to_string(),
            "Unrecognized request argument supplied: top_k"
        );
        assert_eq!(err.param, None);
    }
}
