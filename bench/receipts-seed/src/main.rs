//! `receipts-seed --data-dir DIR --records N`: N request records with
//! receipts appended to the SQLite store in DIR through
//! `Store::insert_request_records`, the request log writer's own
//! transaction (records, rollups, receipts and tiles), in batches of 1024
//! as the writer makes them. Receipt `i` is `rcpt_{i:032x}`, so a load
//! generator can ask for any of them. Prints progress and the rate.

use std::path::PathBuf;
use std::time::Instant;

use airlock_store::{ReceiptClaims, RequestRecord, Store};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// The data directory (its SQLite database is made if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// How many records (and receipts) to add.
    #[arg(long)]
    records: u64,
}

/// Records per transaction, as the request log's writer batches them.
const BATCH: u64 = 1024;

fn record(index: u64, started_at_ms: i64) -> RequestRecord {
    RequestRecord {
        id: format!("seed-{index:012}"),
        started_at_ms,
        surface: "openai".into(),
        operation: "chat.completions".into(),
        model: Some("gpt-4o-mini".into()),
        provider: Some("openai".into()),
        upstream_model: Some("gpt-4o-mini".into()),
        key_id: Some("openai#1".into()),
        status: 200,
        latency_us: 900,
        tokens_in: Some(24),
        tokens_out: Some(48),
        outcome: "ok".into(),
        project_id: Some(format!("project-{}", index % 20)),
        api_key_id: Some(format!("key-{}", index % 60)),
        cost_usd: Some(0.000_032),
        receipt: Some(ReceiptClaims {
            receipt_id: format!("rcpt_{index:032x}"),
            request_sha256: Some(format!(
                "{:064x}",
                index.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )),
            response_sha256: Some(format!(
                "{:064x}",
                index.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
            )),
            ..ReceiptClaims::default()
        }),
        ..RequestRecord::default()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let store = Store::open_data_dir(&args.data_dir).await?;
    let first = store.receipt_log_size().await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let started = Instant::now();
    let mut index = first;
    let end = first + args.records;
    while index < end {
        let batch: Vec<RequestRecord> = (index..end.min(index + BATCH))
            // A minute apart per thousand: the rollups stay a few rows a minute.
            .map(|i| record(i, now_ms - 86_400_000 + (i / 1000) as i64 * 60))
            .collect();
        store.insert_request_records(&batch).await?;
        index += batch.len() as u64;
        if (index - first) % (BATCH * 500) < BATCH {
            let rate = (index - first) as f64 / started.elapsed().as_secs_f64();
            eprintln!("[receipts-seed] {index} receipts ({rate:.0} a second)");
        }
    }
    let size = store.receipt_log_size().await?;
    let rate = args.records as f64 / started.elapsed().as_secs_f64();
    println!(
        "{size} receipts in the log; {} added at {rate:.0} a second",
        args.records
    );
    store.close().await;
    Ok(())
}
