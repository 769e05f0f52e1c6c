//! OpenAI `tools` + `tool_choice` → Gemini `tools` + `toolConfig`.
//!
//! Function tools become one `functionDeclarations` list whose parameters go
//! to `parametersJsonSchema` (full JSON Schema; `strict` has no Gemini
//! equivalent and is ignored). `tool_choice` maps to the function-calling
//! mode: `none` → NONE, `auto` → AUTO, `required` → ANY, a named function →
//! ANY restricted to that name. `allowed_tools` narrows the declarations sent
//! to the allowed ones (mode AUTO or ANY), which is exactly its meaning.
//! Custom (free-form grammar) tools have no Gemini equivalent.

use serde_json::{Value, json};

use super::params::{Params, TranslateError};
use super::schema;

pub(crate) struct ToolSettings {
    /// Gemini `tools`, when any function is declared.
    pub tools: Option<Value>,
    /// Gemini `toolConfig`, when a `tool_choice` was given.
    pub tool_config: Option<Value>,
}

pub(crate) fn convert(request: &Params<'_>) -> Result<ToolSettings, TranslateError> {
    let mut declarations = Vec::new();
    for (i, tool) in request.array("tools")?.into_iter().flatten().enumerate() {
        declarations.push(declaration(&Params::of(tool, format!("tools[{i}]"))?)?);
    }
    let Some(choice) = request.get("tool_choice") else {
        return Ok(ToolSettings {
            tools: wrap(declarations),
            tool_config: None,
        });
    };
    if declarations.is_empty() {
        return Err(TranslateError::new(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            Some("tool_choice"),
        ));
    }
    let (mode, names) = mode(choice)?;
    let config = match names {
        Names::All => json!({"functionCallingConfig": {"mode": mode}}),
        Names::Only(name) => {
            json!({"functionCallingConfig": {"mode": mode, "allowedFunctionNames": [name]}})
        }
        Names::Declared(allowed) => {
            declarations.retain(|d| d["name"].as_str().is_some_and(|n| allowed.contains(&n)));
            if declarations.is_empty() {
                return Err(TranslateError::new(
                    "Invalid value for 'tool_choice': none of 'allowed_tools' is declared in 'tools'.",
                    Some("tool_choice.allowed_tools.tools"),
                ));
            }
            json!({"functionCallingConfig": {"mode": mode}})
        }
    };
    Ok(ToolSettings {
        tools: wrap(declarations),
        tool_config: Some(config),
    })
}

fn wrap(declarations: Vec<Value>) -> Option<Value> {
    (!declarations.is_empty()).then(|| json!([{"functionDeclarations": declarations}]))
}

fn declaration(tool: &Params<'_>) -> Result<Value, TranslateError> {
    let kind = tool.required_string("type")?;
    if kind != "function" {
        return Err(TranslateError::invalid_value(
            &tool.path("type"),
            kind,
            &["function"],
        ));
    }
    let function = Params::of(tool.required("function")?, tool.path("function"))?;
    let mut declaration = json!({"name": function.required_string("name")?});
    if let Some(description) = function.string("description")? {
        declaration["description"] = json!(description);
    }
    if let Some(parameters) = function.get("parameters") {
        declaration["parametersJsonSchema"] =
            schema::for_gemini(parameters, &function.path("parameters"))?;
    }
    function.boolean("strict")?;
    Ok(declaration)
}

/// Which declared functions the model may call.
enum Names<'a> {
    All,
    Only(&'a str),
    Declared(Vec<&'a str>),
}

fn mode(choice: &Value) -> Result<(&'static str, Names<'_>), TranslateError> {
    const CHOICES: [&str; 3] = ["none", "auto", "required"];
    let choice = match choice {
        Value::String(s) => {
            return match s.as_str() {
                "none" => Ok(("NONE", Names::All)),
                "auto" => Ok(("AUTO", Names::All)),
                "required" => Ok(("ANY", Names::All)),
                other => Err(TranslateError::invalid_value(
                    "tool_choice",
                    other,
                    &CHOICES,
                )),
            };
        }
        other => Params::of(other, "tool_choice")?,
    };
    match choice.required_string("type")? {
        "function" => {
            let function = Params::of(choice.required("function")?, choice.path("function"))?;
            Ok(("ANY", Names::Only(function.required_string("name")?)))
        }
        "allowed_tools" => {
            let allowed = Params::of(
                choice.required("allowed_tools")?,
                choice.path("allowed_tools"),
            )?;
            let mode = match allowed.required_string("mode")? {
                "auto" => "AUTO",
                "required" => "ANY",
                other => {
                    return Err(TranslateError::invalid_value(
                        &allowed.path("mode"),
                        other,
                        &["auto", "required"],
                    ));
                }
            };
            let tools = allowed
                .array("tools")?
                .ok_or_else(|| TranslateError::missing(&allowed.path("tools")))?;
            let mut names = Vec::with_capacity(tools.len());
            for (i, tool) in tools.iter().enumerate() {
                let tool = Params::of(tool, allowed.path(&format!("tools[{i}]")))?;
                let kind = tool.required_string("type")?;
                if kind != "function" {
                    return Err(TranslateError::invalid_value(
                        &tool.path("type"),
                        kind,
                        &["function"],
                    ));
                }
                let function = Params::of(tool.required("function")?, tool.path("function"))?;
                names.push(function.required_string("name")?);
            }
            Ok((mode, Names::Declared(names)))
        }
        other => Err(TranslateError::invalid_value(
            &choice.path("type"),
            other,
            &["function", "allowed_tools"],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert_body(body: Value) -> Result<(Option<Value>, Option<Value>), TranslateError> {
        let params = Params::of(&body, "")?;
        convert(&params).map(|s| (s.tools, s.tool_config))
    }

    fn weather_tools() -> Value {
        json!([
            {"type": "function", "function": {
                "name": "weather", "description": "Get weather", "strict": true,
                "parameters": {"$schema": "x", "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}
            }},
            {"type": "function", "function": {"name": "time"}}
        ])
    }

    #[test]
    fn function_tools_become_declarations() {
        let (tools, config) = convert_body(json!({"tools": weather_tools()})).unwrap();
        assert_eq!(
            tools,
            Some(json!([{"functionDeclarations": [
                {"name": "weather", "description": "Get weather", "parametersJsonSchema": {
                    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false
                }},
                {"name": "time"}
            ]}]))
        );
        assert_eq!(config, None);
    }

    #[test]
    fn no_tools_or_empty_tools() {
        assert_eq!(convert_body(json!({})).unwrap(), (None, None));
        assert_eq!(convert_body(json!({"tools": []})).unwrap(), (None, None));
        assert_eq!(
            convert_body(json!({"tools": null, "tool_choice": null})).unwrap(),
            (None, None)
        );
    }

    #[test]
    fn tool_choice_modes() {
        let cases = [
            (
                json!("none"),
                json!({"functionCallingConfig": {"mode": "NONE"}}),
            ),
            (
                json!("auto"),
                json!({"functionCallingConfig": {"mode": "AUTO"}}),
            ),
            (
                json!("required"),
                json!({"functionCallingConfig": {"mode": "ANY"}}),
            ),
            (
                json!({"type": "function", "function": {"name": "time"}}),
                json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["time"]}}),
            ),
        ];
        for (choice, expected) in cases {
            let (tools, config) =
                convert_body(json!({"tools": weather_tools(), "tool_choice": choice})).unwrap();
            assert_eq!(config, Some(expected));
            assert_eq!(
                tools.unwrap()[0]["functionDeclarations"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
        }
    }

    #[test]
    fn allowed_tools_narrows_declarations() {
        let choice = json!({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "time"}}]}});
        let (tools, config) =
            convert_body(json!({"tools": weather_tools(), "tool_choice": choice})).unwrap();
        assert_eq!(
            tools,
            Some(json!([{"functionDeclarations": [{"name": "time"}]}]))
        );
        assert_eq!(
            config,
            Some(json!({"functionCallingConfig": {"mode": "ANY"}}))
        );

        let choice = json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "nope"}}]}});
        let err =
            convert_body(json!({"tools": weather_tools(), "tool_choice": choice})).unwrap_err();
        assert_eq!(
            err.param.as_deref(),
            Some("tool_choice.allowed_tools.tools")
        );
    }

    #[test]
    fn errors_name_the_param() {
        let cases = [
            (json!({"tools": {}}), "tools"),
            (json!({"tools": ["x"]}), "tools[0]"),
            (
                json!({"tools": [{"type": "custom", "custom": {"name": "c"}}]}),
                "tools[0].type",
            ),
            (
                json!({"tools": [{"type": "function"}]}),
                "tools[0].function",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"description": "d"}}]}),
                "tools[0].function.name",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]}),
                "tools[0].function.parameters",
            ),
            (
                json!({"tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]}),
                "tools[0].function.strict",
            ),
            (json!({"tool_choice": "auto"}), "tool_choice"),
            (
                json!({"tools": weather_tools(), "tool_choice": "any"}),
                "tool_choice",
            ),
            (
                json!({"tools": weather_tools(), "tool_choice": 1}),
                "tool_choice",
            ),
            (
                json!({"tools": weather_tools(), "tool_choice": {"type": "custom", "custom": {"name": "c"}}}),
                "tool_choice.type",
            ),
            (
                json!({"tools": weather_tools(), "tool_choice": {"type": "function", "function": {}}}),
                "tool_choice.function.name",
            ),
            (
                json!({"tools": weather_tools(), "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "x", "tools": []}}}),
                "tool_choice.allowed_tools.mode",
            ),
            (
                json!({"tools": weather_tools(), "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto"}}}),
                "tool_choice.allowed_tools.tools",
            ),
        ];
        for (body, param) in cases {
            let err = convert_body(body.clone()).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{body}");
        }
    }
}
