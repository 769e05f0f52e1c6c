//! `airlock projects`, `airlock keys`, `airlock spend` and `airlock audit`:
//! managing tenants from the command line, straight against the database
//! (the same `--data-dir` or `--database-url` as `serve`). A running server
//! picks changes up within a second. Every change is audited as `cli`.

use std::process::ExitCode;
use std::time::Duration;

use airlock_gateway::clock::now_ms;
use airlock_gateway::tenancy::manage::{self, ManageError, NewKey};
use airlock_store::{
    Actor, Budget, BudgetPeriod, KeyKind, Limits, ProjectSettings, SpendFilter, Store,
};
use clap::{Args, Subcommand};

use crate::cli::ConfigSource;

#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<u64>,
    /// Tokens (in + out) per minute.
    #[arg(long)]
    pub tpm: Option<u64>,
    /// Requests in flight at once.
    #[arg(long)]
    pub max_concurrent: Option<u32>,
    /// A budget in US dollars per day or month, e.g. `10/month` or `2.5/day`.
    #[arg(long, value_parser = parse_budget)]
    pub budget_usd: Option<Budget>,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits {
            rpm: self.rpm,
            tpm: self.tpm,
            max_concurrent: self.max_concurrent,
            budget: self.budget_usd.clone(),
        }
    }
}

fn parse_budget(text: &str) -> Result<Budget, String> {
    let (amount, period) = text
        .split_once('/')
        .ok_or("expected AMOUNT/day or AMOUNT/month, e.g. 10/month")?;
    let usd: f64 = amount
        .trim()
        .trim_start_matches('$')
        .parse()
        .map_err(|_| format!("`{amount}` is not an amount"))?;
    let period = match period.trim() {
        "day" | "daily" => BudgetPeriod::Day,
        "month" | "monthly" => BudgetPeriod::Month,
        other => return Err(format!("`{other}` is not a period: use day or month")),
    };
    Ok(Budget { usd, period })
}

/// `30d`, `12h`, `15m`, `90s`.
fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let count: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a lifetime like 30d, 12h, 15m or 90s"))?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => {
            return Err(format!(
                "`{text}` is not a lifetime like 30d, 12h, 15m or 90s"
            ));
        }
    };
    Ok(Duration::from_secs(count.saturating_mul(seconds)))
}

#[derive(Subcommand, Debug)]
pub enum ProjectsCommand {
    /// Create a project.
    Create {
        name: String,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        source: ConfigSource,
    },
    /// Replace a project's limits.
    SetLimits {
        name: String,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        source: ConfigSource,
    },
    /// List projects.
    List {
        #[command(flatten)]
        source: ConfigSource,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a secret key; the secret is printed once and never stored.
    Create {
        #[arg(long)]
        project: String,
        /// A name to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
        #[command(flatten)]
        limits: LimitArgs,
        /// Lifetime, e.g. 30d, 12h, 15m.
        #[arg(long, value_parser = parse_lifetime)]
        expires: Option<Duration>,
        /// Models the key may use (names or prefixes ending in '*'); repeat or separate with commas. Default: all.
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Operations the key may call (chat.completions, generateContent, embeddings, ...); default: all.
        #[arg(long, value_delimiter = ',')]
        operations: Vec<String>,
        /// A publishable key for browsers: accepted only from the project's allowed origins.
        #[arg(long)]
        publishable: bool,
        #[command(flatten)]
        source: ConfigSource,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        project: Option<String>,
        #[command(flatten)]
        source: ConfigSource,
    },
    /// Revoke a key by id.
    Revoke {
        id: String,
        #[command(flatten)]
        source: ConfigSource,
    },
}

#[derive(Args, Debug)]
pub struct SpendArgs {
    #[arg(long)]
    pub project: Option<String>,
    /// A key id.
    #[arg(long)]
    pub key: Option<String>,
    /// First day, YYYY-MM-DD (default: 30 days ago).
    #[arg(long)]
    pub since: Option<String>,
    #[command(flatten)]
    pub source: ConfigSource,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Show entries after this sequence number.
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(flatten)]
    pub source: ConfigSource,
}

pub(crate) fn cli_actor() -> Actor {
    Actor {
        name: "cli".to_string(),
        remote_addr: None,
    }
}

pub async fn open(source: &ConfigSource) -> Result<Store, String> {
    let settings = source
        .load()
        .map_err(|_| "the configuration has problems (see above)".to_string())?;
    open_store(&settings).await
}

/// The database the settings name: `--database-url`, else SQLite in the
/// data directory; sealing user content when `[encryption]` names a key.
pub async fn open_store(settings: &crate::config::Settings) -> Result<Store, String> {
    let store = match &settings.database_url {
        Some(url) => Store::open(url).await,
        None => Store::open_data_dir(&settings.data_dir).await,
    };
    let store = store.map_err(|error| format!("cannot open the database: {error}"))?;
    // User content is sealed at rest under the configured data key.
    Ok(match &settings.sealer {
        Some(sealer) => store.sealed(sealer.clone()),
        None => store,
    })
}

/// In cluster mode, tells the running instances that projects or keys
/// changed, so they reload now (a revoked key refused everywhere at once)
/// rather than at their next poll. A Redis that does not answer is
/// reported; the change is in the database either way.
async fn announce_change(source: &ConfigSource) {
    let Ok(settings) = source.load() else { return };
    let Some(config) = &settings.cluster else {
        return;
    };
    airlock_providers::install_crypto_provider();
    let announced = match airlock_cluster::Cluster::new(&config.settings) {
        Ok(cluster) => cluster.publish_tenancy_changed().await,
        Err(error) => Err(error),
    };
    if let Err(error) = announced {
        eprintln!(
            "airlock: the change is saved, but the running instances could not be told ({error}); they see it within 10 s"
        );
    }
}

pub(crate) fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

pub(crate) fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("airlock: {message}");
            ExitCode::FAILURE
        }
    }
}

fn manage_error(error: ManageError) -> String {
    error.to_string()
}

pub async fn projects(command: ProjectsCommand) -> ExitCode {
    finish(match command {
        ProjectsCommand::Create {
            name,
            limits,
            source,
        } => {
            async {
                let store = open(&source).await?;
                let settings = ProjectSettings {
                    limits: limits.limits(),
                    ..ProjectSettings::default()
                };
                let project = manage::create_project(&store, &name, settings, &cli_actor())
                    .await
                    .map_err(manage_error)?;
                announce_change(&source).await;
                Ok(json(&project))
            }
            .await
        }
        ProjectsCommand::SetLimits {
            name,
            limits,
            source,
        } => {
            async {
                let store = open(&source).await?;
                let mut settings = store
                    .project_by_name(&name)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("project {name} not found"))?
                    .settings;
                settings.limits = limits.limits();
                let project =
                    manage::update_project_settings(&store, &name, settings, &cli_actor())
                        .await
                        .map_err(manage_error)?;
                announce_change(&source).await;
                Ok(json(&project))
            }
            .await
        }
        ProjectsCommand::List { source } => {
            async {
                let store = open(&source).await?;
                Ok(json(&store.projects().await.map_err(|e| e.to_string())?))
            }
            .await
        }
    })
}

pub async fn keys(command: KeysCommand) -> ExitCode {
    finish(match command {
        KeysCommand::Create {
            project,
            name,
            limits,
            expires,
            models,
            operations,
            publishable,
            source,
        } => {
            async {
                let store = open(&source).await?;
                let expires_at_ms =
                    expires.map(|lifetime| now_ms().saturating_add(lifetime.as_millis() as i64));
                let kind = if publishable {
                    KeyKind::Publishable
                } else {
                    KeyKind::Secret
                };
                let new = NewKey {
                    kind: Some(kind),
                    name,
                    limits: limits.limits(),
                    models,
                    operations,
                    conversations: None,
                    expires_at_ms,
                };
                let (key, secret) = manage::create_key(&store, &project, new, &cli_actor())
                    .await
                    .map_err(manage_error)?;
                announce_change(&source).await;
                Ok(format!(
                    "{}\n\nSecret (shown once, store it now):\n{secret}",
                    json(&key)
                ))
            }
            .await
        }
        KeysCommand::List { project, source } => {
            async {
                let store = open(&source).await?;
                let project_id = match project {
                    Some(name) => Some(
                        store
                            .project_by_name(&name)
                            .await
                            .map_err(|e| e.to_string())?
                            .ok_or_else(|| format!("project {name} not found"))?
                            .id,
                    ),
                    None => None,
                };
                Ok(json(
                    &store
                        .keys(project_id.as_deref())
                        .await
                        .map_err(|e| e.to_string())?,
                ))
            }
            .await
        }
        KeysCommand::Revoke { id, source } => {
            async {
                let store = open(&source).await?;
                let key = manage::revoke_key(&store, &id, &cli_actor())
                    .await
                    .map_err(manage_error)?;
                announce_change(&source).await;
                Ok(json(&key))
            }
            .await
        }
    })
}

pub async fn spend(args: SpendArgs) -> ExitCode {
    finish(
        async {
            let store = open(&args.source).await?;
            let since_ms = match &args.since {
                Some(day) => airlock_gateway::clock::parse_day_ms(day)
                    .ok_or("--since must be a date YYYY-MM-DD")?,
                None => now_ms() - 30 * 86_400_000,
            };
            let project_id = match &args.project {
                Some(name) => Some(
                    store
                        .project_by_name(name)
                        .await
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("project {name} not found"))?
                        .id,
                ),
                None => None,
            };
            let filter = SpendFilter {
                project_id,
                api_key_id: args.key.clone(),
                since_ms,
                until_ms: None,
            };
            let rows = store.spend(&filter).await.map_err(|e| e.to_string())?;
            let total = airlock_store::total_cost_usd(&rows);
            Ok(json(
                &serde_json::json!({"data": rows, "total_cost_usd": total}),
            ))
        }
        .await,
    )
}

pub async fn audit(args: AuditArgs) -> ExitCode {
    finish(
        async {
            let store = open(&args.source).await?;
            Ok(json(
                &store
                    .audit_entries(args.after, args.limit.clamp(1, 10_000))
                    .await
                    .map_err(|e| e.to_string())?,
            ))
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_budgets_and_lifetimes() {
        assert_eq!(
            parse_budget("10/month").unwrap(),
            Budget {
                usd: 10.0,
                period: BudgetPeriod::Month
            }
        );
        assert_eq!(
            parse_budget("$2.5/day").unwrap(),
            Budget {
                usd: 2.5,
                period: BudgetPeriod::Day
            }
        );
        assert!(
            parse_budget("10").is_err()
                && parse_budget("x/day").is_err()
                && parse_budget("1/week").is_err()
        );
        assert_eq!(
            parse_lifetime("30d").unwrap(),
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(parse_lifetime("90s").unwrap(), Duration::from_secs(90));
        assert!(
            parse_lifetime("30").is_err()
                && parse_lifetime("d").is_err()
                && parse_lifetime("3w").is_err()
        );
    }
}
