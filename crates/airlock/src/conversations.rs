//! `airlock conversations export`: a project's conversations as JSON Lines,
//! one conversation a line with its items and turns, straight from the
//! database (the same view as the admin API's).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::ConfigSource;
use airlock_gateway::conversations::export;

#[derive(Subcommand, Debug)]
pub enum ConversationsCommand {
    /// Write a project's conversations as JSON Lines, most recently active first.
    Export(ExportArgs),
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The project's name.
    #[arg(long)]
    pub project: String,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub source: ConfigSource,
}

/// Conversations read from the database per page.
const PAGE: i64 = 200;

pub async fn run(command: ConversationsCommand) -> ExitCode {
    let ConversationsCommand::Export(args) = command;
    match export_project(&args).await {
        Ok(count) => {
            eprintln!(
                "airlock: exported {count} conversation(s) of {}",
                args.project
            );
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("airlock: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn export_project(args: &ExportArgs) -> Result<usize, String> {
    let store = crate::tenants::open(&args.source).await?;
    let project = store
        .project_by_name(&args.project)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("project {} not found", args.project))?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut count = 0;
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = store
            .project_conversations(
                Some(&project.id),
                PAGE,
                after.as_ref().map(|(ms, id)| (*ms, id.as_str())),
            )
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = Some((last.last_active_ms, last.conversation.id.clone()));
        for listed in &page {
            let view = export::full(&store, &listed.conversation)
                .await
                .map_err(|e| e.to_string())?;
            writeln!(out, "{view}").map_err(|e| format!("cannot write: {e}"))?;
            count += 1;
        }
    }
    out.flush().map_err(|e| format!("cannot write: {e}"))?;
    Ok(count)
}
