//! The `[server]` section's limits on clients: header, keep-alive and body
//! timeouts, the connection cap, the body budget and the shutdown grace
//! period, checked; and the admin listener's address.

use std::net::SocketAddr;
use std::time::Duration;

use airlock_gateway::ServerPolicy;
use toml::Spanned;

use super::file::ServerSection;
use super::{Overrides, Resolver};

impl Resolver<'_> {
    /// The admin listener (`--admin-listen`): an IP:PORT other than `listen`.
    pub(super) fn admin_listen(
        &mut self,
        field: &Option<Spanned<String>>,
        overrides: &Overrides,
        listen: Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        let text = match (&overrides.admin_listen, field) {
            (Some(text), _) => text.clone(),
            (None, Some(field)) => field.get_ref().clone(),
            (None, None) => return None,
        };
        let problem = match text.parse::<SocketAddr>() {
            // Port 0 asks for any free port: two of them never clash.
            Ok(addr) if addr.port() != 0 && Some(addr) == listen => {
                format!(
                    "admin listen address `{text}` is the listen address; give it a port of its own"
                )
            }
            Ok(addr) => return Some(addr),
            Err(_) => format!("admin listen address `{text}` is not IP:PORT"),
        };
        match (&overrides.admin_listen, field) {
            (None, Some(field)) => self.problem_at(field, problem),
            _ => self.problem(problem),
        }
        None
    }

    pub(super) fn server_policy(
        &mut self,
        server: &ServerSection,
        overrides: &Overrides,
        max_body_bytes: usize,
    ) -> ServerPolicy {
        let defaults = ServerPolicy::default();
        let mut positive_secs = |field: &Option<Spanned<u64>>, name: &str, default| match self
            .checked(
                None,
                field,
                |secs| secs > 0,
                || format!("server.{name} must be greater than zero"),
            ) {
            Some(secs) => Duration::from_secs(secs),
            None => default,
        };
        let header_timeout = positive_secs(
            &server.header_timeout_secs,
            "header_timeout_secs",
            defaults.header_timeout,
        );
        let keep_alive_timeout = positive_secs(
            &server.keep_alive_timeout_secs,
            "keep_alive_timeout_secs",
            defaults.keep_alive_timeout,
        );
        let body_timeout = positive_secs(
            &server.body_timeout_secs,
            "body_timeout_secs",
            defaults.body_timeout,
        );
        let max_connections = self.checked(
            overrides.max_connections,
            &server.max_connections,
            |cap| cap > 0,
            || "max_connections must be at least 1".to_string(),
        );
        let body_budget_bytes = self.checked(
            overrides.body_budget_bytes,
            &server.body_budget_bytes,
            |budget| budget >= max_body_bytes,
            || {
                format!(
                    "body_budget_bytes must be at least max_body_bytes ({max_body_bytes}): \
                     a body at the limit must fit"
                )
            },
        );
        ServerPolicy {
            header_timeout,
            keep_alive_timeout,
            body_timeout,
            body_min_rate: server
                .body_min_bytes_per_sec
                .unwrap_or(defaults.body_min_rate),
            max_connections,
            body_budget_bytes,
            shutdown_grace: overrides
                .shutdown_grace_secs
                .or(server.shutdown_grace_secs)
                .map_or(defaults.shutdown_grace, Duration::from_secs),
        }
    }

    /// The flag's value, else the file's, when `ok`; a problem (with the
    /// file's line when the value is the file's) when not.
    fn checked<T: Copy>(
        &mut self,
        flag: Option<T>,
        field: &Option<Spanned<T>>,
        ok: impl Fn(T) -> bool,
        message: impl Fn() -> String,
    ) -> Option<T> {
        let value = flag.or(field.as_ref().map(|field| *field.get_ref()))?;
        if ok(value) {
            return Some(value);
        }
        match (flag, field) {
            (None, Some(field)) => self.problem_at(field, message()),
            _ => self.problem(message()),
        }
        None
    }
}
