//! `airlock admins`: the dashboard's users from the command line, straight
//! against the database (the same `--data-dir` or `--database-url` as
//! `serve`): add one with a role (the password read from
//! `AIRLOCK_ADMIN_PASSWORD` or the first line of standard input, never
//! from an argument, which other users of the machine can read), list
//! them, remove one. Changes are audited as `cli`.

use std::io::BufRead;
use std::process::ExitCode;

use airlock_gateway::dashboard::{check_password, check_username, hash_password};
use airlock_store::{AdminRole, StoreError};
use clap::Subcommand;

use crate::cli::ConfigSource;
use crate::tenants::{cli_actor, finish, json, open};

#[derive(Subcommand, Debug)]
pub enum AdminsCommand {
    /// Add a dashboard user; the password is read from AIRLOCK_ADMIN_PASSWORD or standard input.
    Add {
        username: String,
        /// viewer (reads), operator (also changes projects and keys) or admin (also manages users).
        #[arg(long, value_parser = parse_role)]
        role: AdminRole,
        #[command(flatten)]
        source: ConfigSource,
    },
    /// List the dashboard's users.
    List {
        #[command(flatten)]
        source: ConfigSource,
    },
    /// Remove a dashboard user, signing it out.
    Remove {
        username: String,
        #[command(flatten)]
        source: ConfigSource,
    },
}

fn parse_role(text: &str) -> Result<AdminRole, String> {
    AdminRole::parse(text)
        .ok_or_else(|| format!("`{text}` is not a role: viewer, operator or admin"))
}

/// The password from the environment, or the first line of standard input.
fn read_password() -> Result<String, String> {
    if let Ok(password) = std::env::var("AIRLOCK_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the password from standard input: {error}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn run(command: AdminsCommand) -> ExitCode {
    finish(match command {
        AdminsCommand::Add {
            username,
            role,
            source,
        } => {
            async {
                check_username(&username)?;
                let password = read_password()?;
                check_password(&password)?;
                let hash = hash_password(&password)?;
                let store = open(&source).await?;
                match store
                    .create_admin_user(&username, &hash, role, &cli_actor())
                    .await
                {
                    Ok(user) => Ok(json(&user)),
                    Err(StoreError::Conflict) => {
                        Err(format!("admin user {username} already exists"))
                    }
                    Err(error) => Err(error.to_string()),
                }
            }
            .await
        }
        AdminsCommand::List { source } => {
            async {
                let store = open(&source).await?;
                Ok(json(&store.admin_users().await.map_err(|e| e.to_string())?))
            }
            .await
        }
        AdminsCommand::Remove { username, source } => {
            async {
                let store = open(&source).await?;
                match store.delete_admin_user(&username, &cli_actor()).await {
                    Ok(()) => Ok(json(&serde_json::json!({"removed": username}))),
                    Err(StoreError::NotFound) => Err(format!("admin user {username} not found")),
                    Err(error) => Err(error.to_string()),
                }
            }
            .await
        }
    })
}
