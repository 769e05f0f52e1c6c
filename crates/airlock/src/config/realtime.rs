//! The `[realtime]` section: session limits and server-side tools, checked.

use std::time::Duration;

use airlock_gateway::realtime::{RealtimePolicy, ServerTool};
use url::Url;

use super::Resolver;
use super::file::{RealtimeSection, ToolSection};

/// A tool webhook's timeout when none is given.
const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(10);

impl Resolver<'_> {
    pub(super) fn realtime_policy(&mut self, section: &RealtimeSection) -> RealtimePolicy {
        let defaults = RealtimePolicy::default();
        let mut positive_secs =
            |field: &Option<toml::Spanned<u64>>, name: &str, default| match field {
                None => default,
                Some(value) if *value.get_ref() == 0 => {
                    self.problem_at(value, format!("realtime.{name} must be greater than zero"));
                    default
                }
                Some(value) => Duration::from_secs(*value.get_ref()),
            };
        let max_session = positive_secs(
            &section.max_session_secs,
            "max_session_secs",
            defaults.max_session,
        );
        let idle_timeout = positive_secs(
            &section.idle_timeout_secs,
            "idle_timeout_secs",
            defaults.idle_timeout,
        );
        let max_frame_bytes = match &section.max_frame_bytes {
            Some(value) if *value.get_ref() < 1024 => {
                self.problem_at(value, "realtime.max_frame_bytes must be at least 1024");
                defaults.max_frame_bytes
            }
            Some(value) => *value.get_ref(),
            None => defaults.max_frame_bytes,
        };
        RealtimePolicy {
            max_session,
            idle_timeout,
            max_sessions_per_key: section.max_sessions_per_key,
            max_sessions_per_project: section.max_sessions_per_project,
            max_frame_bytes,
            max_messages_per_sec: match section.max_messages_per_sec {
                Some(0) => None,
                Some(limit) => Some(limit),
                None => defaults.max_messages_per_sec,
            },
            drain: section
                .drain_secs
                .map_or(defaults.drain, Duration::from_secs),
            store_transcripts: section
                .store_transcripts
                .unwrap_or(defaults.store_transcripts),
        }
    }

    pub(super) fn realtime_tools(&mut self, sections: &[ToolSection]) -> Vec<ServerTool> {
        let mut tools: Vec<ServerTool> = Vec::new();
        for section in sections {
            let name = section.name.get_ref();
            if name.is_empty() {
                self.problem_at(&section.name, "realtime.tools: a tool needs a name");
            }
            if tools
                .iter()
                .any(|tool| &tool.name == name && tool.project == section.project)
            {
                self.problem_at(
                    &section.name,
                    format!("realtime.tools: `{name}` is registered twice for the same project"),
                );
            }
            let url = match Url::parse(section.url.get_ref()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Some(url),
                _ => {
                    self.problem_at(
                        &section.url,
                        format!("realtime.tools: `{name}` needs an http(s) URL"),
                    );
                    None
                }
            };
            let secret = self.secret(&section.secret, "realtime.tools.secret");
            if secret.as_deref().is_some_and(str::is_empty) {
                self.problem_at(&section.secret, "realtime.tools.secret is empty");
            }
            let timeout = match section.timeout_ms {
                Some(0) => {
                    self.problem_at(
                        &section.name,
                        "realtime.tools.timeout_ms must be greater than zero",
                    );
                    DEFAULT_TOOL_TIMEOUT
                }
                Some(ms) => Duration::from_millis(ms),
                None => DEFAULT_TOOL_TIMEOUT,
            };
            if let (Some(url), Some(secret)) = (url, secret) {
                tools.push(ServerTool {
                    name: name.clone(),
                    project: section.project.clone(),
                    url,
                    secret,
                    timeout,
                });
            }
        }
        tools
    }
}
