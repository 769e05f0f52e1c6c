//! OpenAI `response_format` → Gemini structured-output settings
//! (`responseMimeType`, `responseJsonSchema`) inside `generationConfig`.
//!
//! `text` needs nothing; `json_object` asks for `application/json`;
//! `json_schema` also passes `json_schema.schema` as `responseJsonSchema`
//! (`name`, `description` and `strict` have no Gemini counterpart).

use serde_json::{Map, Value, json};

use super::params::{Params, TranslateError};
use super::schema;

pub(crate) fn apply(format: &Value, config: &mut Map<String, Value>) -> Result<(), TranslateError> {
    let format = Params::of(format, "response_format")?;
    match format.required_string("type")? {
        "text" => {}
        "json_object" => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        "json_schema" => {
            let spec = Params::of(format.required("json_schema")?, format.path("json_schema"))?;
            spec.required_string("name")?;
            spec.boolean("strict")?;
            config.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = spec.get("schema") {
                config.insert(
                    "responseJsonSchema".into(),
                    schema::for_gemini(schema, &spec.path("schema"))?,
                );
            }
        }
        other => {
            return Err(TranslateError::invalid_value(
                &format.path("type"),
                other,
                &["text", "json_object", "json_schema"],
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_for(format: Value) -> Result<Value, TranslateError> {
        let mut config = Map::new();
        apply(&format, &mut config).map(|()| Value::Object(config))
    }

    #[test]
    fn formats() {
        assert_eq!(config_for(json!({"type": "text"})).unwrap(), json!({}));
        assert_eq!(
            config_for(json!({"type": "json_object"})).unwrap(),
            json!({"responseMimeType": "application/json"})
        );
        assert_eq!(
            config_for(json!({"type": "json_schema", "json_schema": {
                "name": "person", "strict": true,
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}
            }}))
            .unwrap(),
            json!({
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false}
            })
        );
        assert_eq!(
            config_for(json!({"type": "json_schema", "json_schema": {"name": "any"}})).unwrap(),
            json!({"responseMimeType": "application/json"})
        );
    }

    #[test]
    fn errors_name_the_param() {
        let cases = [
            (json!("json"), "response_format"),
            (json!({}), "response_format.type"),
            (json!({"type": "yaml"}), "response_format.type"),
            (
                json!({"type": "json_schema"}),
                "response_format.json_schema",
            ),
            (
                json!({"type": "json_schema", "json_schema": {"schema": {}}}),
                "response_format.json_schema.name",
            ),
            (
                json!({"type": "json_schema", "json_schema": {"name": "n", "schema": []}}),
                "response_format.json_schema.schema",
            ),
        ];
        for (format, param) in cases {
            assert_eq!(
                config_for(format.clone()).unwrap_err().param.as_deref(),
                Some(param),
                "{format}"
            );
        }
    }
}
