//! JSON Schemas handed to Gemini (`parametersJsonSchema` of a function
//! declaration, `responseJsonSchema` of structured output).
//!
//! Both fields take JSON Schema as-is, so the schema passes through except for
//! the root `$schema` keyword, which Gemini rejects ("Unknown name \"$schema\"")
//! and which pydantic/zod generators like to emit.

use serde_json::Value;

use super::params::TranslateError;

/// Validates that `schema` (found at `param`) is an object and returns the
/// copy Gemini accepts.
pub(crate) fn for_gemini(schema: &Value, param: &str) -> Result<Value, TranslateError> {
    let mut schema = match schema {
        Value::Object(map) => map.clone(),
        other => return Err(TranslateError::invalid_type(param, "an object", other)),
    };
    schema.remove("$schema");
    Ok(Value::Object(schema))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_root_dollar_schema_only() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"a": {"$schema": "kept", "type": "string"}},
            "additionalProperties": false
        });
        assert_eq!(
            for_gemini(&schema, "p").unwrap(),
            json!({
                "type": "object",
                "properties": {"a": {"$schema": "kept", "type": "string"}},
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn non_object_schema_is_rejected() {
        let err = for_gemini(&json!("object"), "tools[0].function.parameters").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("tools[0].function.parameters"));
        assert_eq!(
            err.message,
            "Invalid type for 'tools[0].function.parameters': expected an object, but got a string instead."
        );
    }
}
