//! `airlock users export` and `airlock users erase`: one end user's data
//! (GDPR), straight from the database and the object store, with the same
//! code as the admin API's. The export is written to a local zip file; the
//! erasure deletes the user's rows and blobs and writes the audit entry. A
//! running gateway is not told: use the admin API there, which also closes
//! the user's open realtime sessions and forgets cached answers it holds in
//! memory.

use std::path::PathBuf;
use std::process::ExitCode;

use airlock_gateway::user_data::{Holdings, audit_target, erase, export};
use airlock_store::{Blobs, DataOwner, Project, Store};
use clap::{Args, Subcommand};

use crate::cli::ConfigSource;

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Write everything held about one end user to a zip archive (JSON Lines per kind, and the blobs).
    Export(ExportArgs),
    /// Erase everything held about one end user, blobs included (audited).
    Erase(EraseArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The project's name.
    #[arg(long)]
    pub project: String,
    /// The end user's id (from `x-airlock-user-token`, a request's `user` or `safety_identifier`).
    #[arg(long)]
    pub user: String,
    /// The zip file to write.
    #[arg(long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub source: ConfigSource,
}

#[derive(Args, Debug)]
pub struct EraseArgs {
    /// The project's name.
    #[arg(long)]
    pub project: String,
    /// The end user's id.
    #[arg(long, required_unless_present = "all_users")]
    pub user: Option<String>,
    /// Erase the user data of every end user of the project (the project and its keys stay).
    #[arg(long, conflicts_with = "user")]
    pub all_users: bool,
    #[command(flatten)]
    pub source: ConfigSource,
}

pub async fn run(command: UsersCommand) -> ExitCode {
    let result = match command {
        UsersCommand::Export(args) => run_export(&args).await,
        UsersCommand::Erase(args) => run_erase(&args).await,
    };
    match result {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("airlock: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The database and object store the configuration names, and the project.
async fn open(source: &ConfigSource, name: &str) -> Result<(Store, Blobs, Project), String> {
    let settings = crate::backup::settings(source)?;
    let store = crate::tenants::open_store(&settings).await?;
    let blobs = crate::backup::media_blobs(&settings)?;
    let project = store
        .project_by_name(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("project {name} not found"))?;
    Ok((store, blobs, project))
}

async fn run_export(args: &ExportArgs) -> Result<String, String> {
    let (store, blobs, project) = open(&args.source, &args.project).await?;
    let holdings = Holdings {
        store: &store,
        blobs: Some(&blobs),
        owner: DataOwner {
            project_id: &project.id,
            end_user: Some(&args.user),
        },
    };
    let about = export::about(&project.name, holdings, airlock_gateway::clock::now_ms());
    let archive = export::archive(holdings, about)
        .await
        .map_err(|error| format!("the export failed: {error}"))?;
    std::fs::write(&args.output, &archive)
        .map_err(|error| format!("cannot write {}: {error}", args.output.display()))?;
    store
        .record_audit(
            &crate::tenants::cli_actor(),
            "user_data.export",
            &audit_target(&project.name, Some(&args.user)),
            serde_json::Value::Null,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "wrote {} ({} bytes)",
        args.output.display(),
        archive.len()
    ))
}

async fn run_erase(args: &EraseArgs) -> Result<String, String> {
    let (store, blobs, project) = open(&args.source, &args.project).await?;
    let owner = DataOwner {
        project_id: &project.id,
        end_user: args.user.as_deref(),
    };
    let exports = airlock_gateway::user_data::job::remove_exports_of(&store, &blobs, owner)
        .await
        .map_err(|e| e.to_string())?;
    let holdings = Holdings {
        store: &store,
        blobs: Some(&blobs),
        owner,
    };
    let erased = erase::erase(holdings)
        .await
        .map_err(|error| format!("the erasure stopped before the end (run it again): {error}"))?;
    store
        .record_audit(
            &crate::tenants::cli_actor(),
            "user_data.erase",
            &audit_target(&project.name, args.user.as_deref()),
            serde_json::Value::Null,
        )
        .await
        .map_err(|e| e.to_string())?;
    let summary = serde_json::json!({
        "rows": erased.rows,
        "blobs": erased.blobs,
        "exports": exports,
    });
    Ok(serde_json::to_string_pretty(&summary).unwrap_or_default())
}
