//! Server-side tools: functions a project answers from its own backend.
//!
//! When the model calls a function registered here (`[[realtime.tools]]`),
//! Airlock POSTs the call to the tool's signed webhook ([`crate::webhook`],
//! as budget alerts are sent) and gives the model the answer itself. A webhook that
//! fails or is too slow answers `{"error": "..."}`, so the model can go on.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;

use crate::webhook::{self, Webhook};

/// One registered tool.
#[derive(Debug, Clone)]
pub struct ServerTool {
    /// The function name the model calls.
    pub name: String,
    /// The project (by name) whose sessions it serves; `None`: every session.
    pub project: Option<String>,
    pub url: Url,
    /// The HMAC key of the signatures.
    pub secret: String,
    pub timeout: Duration,
}

/// A call the model made, as the webhook receives it.
#[derive(Debug, Clone)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// A webhook's answer, ready for the model.
#[derive(Debug, Clone)]
pub struct ToolAnswer {
    pub call: ToolCall,
    /// The webhook's JSON object, or `{"error": ...}`.
    pub response: Value,
    pub failed: bool,
}

/// The registered tools, each with its webhook.
#[derive(Debug, Clone)]
pub struct ServerTools {
    tools: Vec<RegisteredTool>,
}

/// A tool and the webhook that answers it.
#[derive(Debug, Clone)]
pub struct RegisteredTool {
    pub tool: ServerTool,
    webhook: Webhook,
}

impl ServerTools {
    pub fn new(tools: Vec<ServerTool>) -> Result<Self, String> {
        let client = webhook::client()?;
        let tools = tools
            .into_iter()
            .map(|tool| {
                let what = format!("tool `{}` webhook", tool.name);
                let webhook = Webhook::new(
                    client.clone(),
                    tool.url.as_str(),
                    &tool.secret,
                    tool.timeout,
                    &what,
                )?;
                Ok(RegisteredTool { tool, webhook })
            })
            .collect::<Result<_, String>>()?;
        Ok(ServerTools { tools })
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The tool `name` as seen by a session of `project`.
    pub fn find(&self, project: Option<&str>, name: &str) -> Option<&RegisteredTool> {
        self.tools.iter().find(|registered| {
            let tool = &registered.tool;
            tool.name == name
                && tool
                    .project
                    .as_deref()
                    .is_none_or(|only| Some(only) == project)
        })
    }
}

impl RegisteredTool {
    /// Calls the tool's webhook for `call` made in `session_id`.
    pub async fn call(&self, session_id: &str, call: ToolCall) -> ToolAnswer {
        let body = json!({
            "type": "realtime.tool_call",
            "session_id": session_id,
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments,
        });
        let body = serde_json::to_vec(&body).expect("a JSON value serialises");
        let started = Instant::now();
        let result = match self.webhook.post(&body, &[]).await {
            Ok(response) if response.status().is_success() => {
                let body = response.bytes().await.unwrap_or_default();
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(object)) => Ok(Value::Object(object)),
                    Ok(other) => Ok(json!({ "result": other })),
                    Err(_) => Err("the tool webhook's answer is not JSON".to_string()),
                }
            }
            Ok(response) => Err(format!(
                "the tool webhook answered {}",
                response.status().as_u16()
            )),
            Err(failure) if failure.timed_out => Err("the tool webhook timed out".into()),
            Err(_) => Err("the tool webhook could not be reached".into()),
        };
        let outcome = if result.is_ok() { "ok" } else { "error" };
        crate::metrics::record_tool_call(&self.tool.name, outcome, started.elapsed());
        match result {
            Ok(response) => ToolAnswer {
                call,
                response,
                failed: false,
            },
            Err(error) => {
                tracing::warn!(tool = %self.tool.name, %error, "server-side tool failed");
                ToolAnswer {
                    call,
                    response: json!({ "error": error }),
                    failed: true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, project: Option<&str>) -> ServerTool {
        ServerTool {
            name: name.into(),
            project: project.map(str::to_string),
            url: Url::parse("http://127.0.0.1:9/hook").unwrap(),
            secret: "s".into(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn tools_are_found_by_name_within_their_project() {
        let tools = ServerTools::new(vec![
            tool("lookup_order", Some("shop")),
            tool("weather", None),
        ])
        .unwrap();
        assert!(tools.find(Some("shop"), "lookup_order").is_some());
        assert!(tools.find(Some("story"), "lookup_order").is_none());
        assert!(tools.find(None, "lookup_order").is_none());
        assert!(tools.find(Some("story"), "weather").is_some());
        assert!(tools.find(None, "weather").is_some());
        assert!(tools.find(None, "other").is_none());
    }
}
