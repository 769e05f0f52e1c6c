//! OpenAI's checks of a well-formed Responses request beyond its shape:
//! sampling parameters and `reasoning` against the model, exclusive
//! parameters, tool and schema names, the tool choice, metadata limits,
//! image URLs, JSON mode's "json" rule; then, on the whole conversation,
//! the pairing of function calls and their outputs.

use serde_json::Value;

use crate::openai::catalog::{Kind, OpenAiModel};
use crate::openai::checks::{
    image_url_problem, metadata_problem, name_problem, unknown_tool_choice, unsupported_parameter,
};
use crate::openai::errors::ApiError;
use crate::openai::request::list;

/// The request against the model and itself.
pub fn check(body: &Value, model: &OpenAiModel) -> Result<(), ApiError> {
    let set = |key: &str| body.get(key).is_some_and(|v| !v.is_null());
    if matches!(model.kind, Kind::Chat { reasoning: true }) {
        // Reasoning models take the default sampling only.
        for param in ["temperature", "top_p"] {
            if body[param].as_f64().is_some_and(|v| v != 1.0) {
                return Err(ApiError::invalid(
                    format!("Unsupported parameter: '{param}' is not supported with this model."),
                    Some(param),
                    None,
                ));
            }
        }
    } else if let Some(member) = ["effort", "summary", "generate_summary"]
        .into_iter()
        .find(|m| !body["reasoning"][*m].is_null())
    {
        return Err(unsupported_parameter(&format!("reasoning.{member}"), ""));
    }
    if set("previous_response_id") && set("conversation") {
        return Err(ApiError::invalid(
            "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
            None,
            Some("mutually_exclusive_parameters"),
        ));
    }
    let tools = list(&body["tools"]);
    for (i, tool) in tools.iter().enumerate() {
        if let Some(name) = tool["name"].as_str()
            && let Some(e) = name_problem(&format!("tools[{i}].name"), name)
        {
            return Err(e);
        }
    }
    let choice = &body["tool_choice"];
    if choice["type"] == "function"
        && let Some(wanted) = choice["name"].as_str()
        && !tools
            .iter()
            .any(|t| t["type"] == "function" && t["name"] == wanted)
    {
        return Err(unknown_tool_choice(wanted));
    }
    let format = &body["text"]["format"];
    if let Some(name) = format["name"].as_str()
        && let Some(e) = name_problem("text.format.name", name)
    {
        return Err(e);
    }
    if let Some(e) = metadata_problem(&body["metadata"]) {
        return Err(e);
    }
    for (i, item) in list(&body["input"]).iter().enumerate() {
        for (j, part) in list(&item["content"]).iter().enumerate() {
            if let Some(url) = part["image_url"].as_str()
                && let Some(e) =
                    image_url_problem(url, &format!("input[{i}].content[{j}].image_url"))
            {
                return Err(e);
            }
        }
    }
    let said = format!("{}{}", body["input"], body["instructions"]).to_lowercase();
    if format["type"] == "json_object" && !said.contains("json") {
        return Err(ApiError::invalid(
            "Response input messages must contain the word 'json' in some form to use 'text.format' of type 'json_object'.",
            Some("input"),
            None,
        ));
    }
    Ok(())
}

/// Every function call output answers a call of the conversation, and
/// every call has its output.
pub fn pairing(items: &[&Value]) -> Result<(), ApiError> {
    let ids = |kind: &str| -> Vec<&str> {
        items
            .iter()
            .filter(|i| i["type"] == kind)
            .filter_map(|i| i["call_id"].as_str())
            .collect()
    };
    let (calls, outputs) = (ids("function_call"), ids("function_call_output"));
    if let Some(orphan) = outputs.iter().find(|o| !calls.contains(o)) {
        return Err(ApiError::invalid(
            format!("No tool call found for function call output with call_id {orphan}."),
            Some("input"),
            None,
        ));
    }
    match calls.iter().find(|c| !outputs.contains(c)) {
        Some(unanswered) => Err(ApiError::invalid(
            format!("No tool output found for function call {unanswered}."),
            Some("input"),
            None,
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;
    use serde_json::json;

    fn body(extra: Value) -> Value {
        let mut b = json!({"model": "gpt-4o", "input": "hello"});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    }

    fn err(extra: Value, model: &str) -> ApiError {
        check(&body(extra), catalog::find(model).unwrap()).unwrap_err()
    }

    #[test]
    fn checks_follow_openai() {
        let e = err(json!({"temperature": 0.2}), "gpt-5");
        assert_eq!(
            (e.message.as_str(), e.param.as_deref(), e.code),
            (
                "Unsupported parameter: 'temperature' is not supported with this model.",
                Some("temperature"),
                None
            )
        );
        assert!(
            check(
                &body(json!({"temperature": 1})),
                catalog::find("o3").unwrap()
            )
            .is_ok()
        );
        assert!(
            check(
                &body(json!({"reasoning": {"effort": "low"}})),
                catalog::find("o3").unwrap()
            )
            .is_ok()
        );
        let e = err(json!({"reasoning": {"effort": "low"}}), "gpt-4o");
        assert_eq!(e.param.as_deref(), Some("reasoning.effort"));
        assert_eq!(e.code, Some("unsupported_parameter"));
        assert_eq!(
            err(
                json!({"previous_response_id": "r", "conversation": "c"}),
                "gpt-4o"
            )
            .code,
            Some("mutually_exclusive_parameters")
        );
        assert_eq!(
            err(
                json!({"tools": [{"type": "function", "name": "a b"}]}),
                "gpt-4o"
            )
            .param
            .as_deref(),
            Some("tools[0].name")
        );
        assert_eq!(
            err(json!({"tools": [{"type": "function", "name": "a"}], "tool_choice": {"type": "function", "name": "b"}}), "gpt-4o").param.as_deref(),
            Some("tool_choice")
        );
        assert_eq!(
            err(
                json!({"text": {"format": {"type": "json_object"}}}),
                "gpt-4o"
            )
            .param
            .as_deref(),
            Some("input")
        );
        assert!(
            check(
                &body(json!({"instructions": "Answer in JSON.", "text": {"format": {"type": "json_object"}}})),
                catalog::find("gpt-4o").unwrap()
            )
            .is_ok()
        );
        assert_eq!(
            err(json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "nope"}]}]}), "gpt-4o").param.as_deref(),
            Some("input[0].content[0].image_url")
        );
    }

    #[test]
    fn calls_and_outputs_pair_up() {
        let call = json!({"type": "function_call", "call_id": "c1"});
        let output = json!({"type": "function_call_output", "call_id": "c1"});
        let stray = json!({"type": "function_call_output", "call_id": "c2"});
        assert!(pairing(&[&call, &output]).is_ok());
        assert_eq!(
            pairing(&[&call, &output, &stray]).unwrap_err().message,
            "No tool call found for function call output with call_id c2."
        );
        assert_eq!(
            pairing(&[&call]).unwrap_err().message,
            "No tool output found for function call c1."
        );
    }
}
