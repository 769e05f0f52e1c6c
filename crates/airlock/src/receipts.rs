//! `airlock receipts`: the receipts log from the command line.
//!
//! - `key`: the verifier key of the log `serve` signs (configured, or the
//!   one kept in the data directory, made now if there is none), to hand
//!   to whoever verifies receipts; with `--witness`, the witness's.
//! - `keygen --origin NAME`: a new signer key on standard output (for a
//!   `file:` or `env:` secret), its verifier key on standard error.
//! - `verify RECEIPT.json --key KEY`: a receipt checked offline: the
//!   checkpoint's signature, the entry's inclusion, and the bodies' digests
//!   when given. No server is asked.
//! - `audit --url URL --from-checkpoint OLD --key KEY`: the log's latest
//!   checkpoint fetched and proven to extend the older one (a rewritten or
//!   truncated log fails), saved with `--save` for the next audit.
//!   `verify` and `audit` check a witness's cosignature with `--witness-key`.

use std::path::PathBuf;
use std::process::ExitCode;

use airlock_receipts::{
    Bodies, Checkpoint, CosignerKey, CosignerVerifier, Hash, ReceiptBundle, SignerKey, VerifierKey,
    open_checkpoint, verify_consistency, verify_cosignature,
};
use clap::Subcommand;
use serde::Deserialize;

use crate::cli::ConfigSource;
use crate::config::ReceiptsConfig;
use crate::receipts_key;

#[derive(Subcommand, Debug)]
pub enum ReceiptsCommand {
    /// Print the verifier key of the log this configuration signs.
    Key(Box<KeyArgs>),
    /// Make a new signing key: the signer key on standard output, its verifier key on standard error.
    Keygen {
        /// The log's name, the first line of its checkpoints (e.g. example.com/receipts).
        #[arg(long)]
        origin: String,
    },
    /// Verify a receipt offline: signature, inclusion and, when given, the bodies' SHA-256.
    Verify {
        /// The receipt as GET /v1/receipts/{id} gave it.
        receipt: PathBuf,
        /// The log's verifier key (from `airlock receipts key`), or a file holding it.
        #[arg(long)]
        key: String,
        /// The request body as sent, checked against the receipt's request_sha256.
        #[arg(long)]
        request: Option<PathBuf>,
        /// The answer as received (a stream's text), checked against its response_sha256.
        #[arg(long)]
        response: Option<PathBuf>,
        /// A witness's cosigner key (from `airlock receipts key --witness`): its cosignature on the checkpoint is checked too.
        #[arg(long)]
        witness_key: Option<String>,
    },
    /// Prove the log's latest checkpoint extends an older one (say, one
    /// anchored elsewhere), and that a receipt is in that same log.
    Audit {
        /// The gateway's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// A checkpoint saved earlier (GET /log/checkpoint, or an earlier --save).
        #[arg(long)]
        from_checkpoint: PathBuf,
        /// The log's verifier key, or a file holding it.
        #[arg(long)]
        key: String,
        /// Where to save the latest checkpoint once proven, for the next audit.
        #[arg(long)]
        save: Option<PathBuf>,
        /// A witness's cosigner key: the latest checkpoint must carry its cosignature.
        #[arg(long)]
        witness_key: Option<String>,
        /// A receipt (GET /v1/receipts/{id}) to prove in the same log: its
        /// checkpoint is proven a prefix of the latest one too.
        #[arg(long)]
        receipt: Option<PathBuf>,
    },
}

/// `airlock receipts key`: the configuration `serve` runs with.
#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// The witness's cosigner key ([receipts] witness_key) instead of the log's.
    #[arg(long)]
    witness: bool,
    #[command(flatten)]
    source: ConfigSource,
}

pub async fn run(command: ReceiptsCommand) -> ExitCode {
    let result = match command {
        ReceiptsCommand::Key(args) => key(&args),
        ReceiptsCommand::Keygen { origin } => keygen(&origin),
        ReceiptsCommand::Verify {
            receipt,
            key,
            request,
            response,
            witness_key,
        } => verify(&receipt, &key, (request, response), witness_key.as_deref()),
        ReceiptsCommand::Audit {
            url,
            from_checkpoint,
            key,
            save,
            witness_key,
            receipt,
        } => {
            let audit = Audit {
                url: &url,
                from_checkpoint: &from_checkpoint,
                key: &key,
                save,
                witness: witness_key.as_deref(),
                receipt,
            };
            audit.run().await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn key(args: &KeyArgs) -> Result<(), String> {
    let settings = args
        .source
        .load()
        .map_err(|_| "the configuration has problems (above)".to_string())?;
    let Some(config) = &settings.receipts else {
        return Err("receipts are off in this configuration ([receipts] enabled = false)".into());
    };
    if args.witness {
        let text = config
            .witness_key
            .as_deref()
            .ok_or("no witness in this configuration ([receipts] witness_key)")?;
        let witness = CosignerKey::parse(text).map_err(|error| error.to_string())?;
        println!("{}", witness.verifier());
        return Ok(());
    }
    let signer = signer(&settings.data_dir, config)?;
    println!("{}", signer.verifier());
    Ok(())
}

/// A witness's cosigner key given as its text or as a file holding it.
fn witness_key(key: &str) -> Result<CosignerVerifier, String> {
    CosignerVerifier::parse(&key_text(key))
        .map_err(|error| format!("--witness-key is not a cosigner key: {error}"))
}

/// Checks `witness`'s cosignature on `note`, printing when it was made.
fn check_cosignature(note: &str, witness: Option<&str>) -> Result<(), String> {
    let Some(witness) = witness else {
        return Ok(());
    };
    let witness = witness_key(witness)?;
    let at = verify_cosignature(note, &witness).map_err(|error| {
        format!(
            "the checkpoint's cosignature by {} does not verify: {error}",
            witness.name()
        )
    })?;
    let when = jiff::Timestamp::from_second(at as i64)
        .map(|time| time.to_string())
        .unwrap_or_else(|_| at.to_string());
    println!("  cosigned by the witness {} at {when}", witness.name());
    Ok(())
}

fn signer(data_dir: &std::path::Path, config: &ReceiptsConfig) -> Result<SignerKey, String> {
    match &config.signing_key {
        Some(text) => receipts_key::parse(text, &config.origin),
        None => {
            receipts_key::load_or_create(&data_dir.join(receipts_key::FILE_NAME), &config.origin)
        }
    }
}

fn keygen(origin: &str) -> Result<(), String> {
    let (signer, verifier) = SignerKey::generate(origin).map_err(|error| error.to_string())?;
    println!("{signer}");
    eprintln!("{verifier}");
    Ok(())
}

/// A verifier key given as its text or as a file holding it.
fn verifier_key(key: &str) -> Result<VerifierKey, String> {
    VerifierKey::parse(&key_text(key))
        .map_err(|error| format!("--key is not a verifier key: {error}"))
}

/// A key argument's text: the contents of the file it names, or itself.
fn key_text(key: &str) -> String {
    std::fs::read_to_string(key)
        .unwrap_or_else(|_| key.to_string())
        .trim()
        .to_string()
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path)
        .map_err(|error| format!("cannot read the {what} {}: {error}", path.display()))
}

fn verify(
    receipt: &PathBuf,
    key: &str,
    (request, response): (Option<PathBuf>, Option<PathBuf>),
    witness: Option<&str>,
) -> Result<(), String> {
    let verifier = verifier_key(key)?;
    let bundle: ReceiptBundle = serde_json::from_slice(&read(receipt, "receipt")?)
        .map_err(|error| format!("{} is not a receipt: {error}", receipt.display()))?;
    let request = request
        .map(|path| read(&path, "request body"))
        .transpose()?;
    let response = response
        .map(|path| read(&path, "response body"))
        .transpose()?;
    let bodies = Bodies {
        request: request.as_deref(),
        response: response.as_deref(),
    };
    let verified = bundle
        .verify(&verifier, bodies)
        .map_err(|error| format!("receipt {} does not verify: {error}", bundle.id))?;
    let entry = &verified.entry;
    println!("receipt {} verified", entry.receipt);
    println!(
        "  entry {} of {} in {} (checkpoint signed by {})",
        verified.leaf_index,
        verified.checkpoint.size,
        verified.checkpoint.origin,
        verifier.name()
    );
    println!(
        "  request {} at {}: {} {} by {} -> {}",
        entry.request,
        entry.time,
        entry.surface,
        entry.operation,
        entry.upstream_model.as_deref().unwrap_or("(no model)"),
        entry.status
    );
    let checked = |done: bool| if done { "matches" } else { "not given" };
    println!("  request body: {}", checked(verified.request_checked));
    println!("  response body: {}", checked(verified.response_checked));
    if let Some(policy) = &entry.policy_sha256 {
        println!("  constitution: sha256 {policy}");
    }
    if let Some(checks) = &entry.checks {
        let results: Vec<String> = checks
            .results
            .iter()
            .map(|r| format!("{} {} ({})", r.rule, r.result, r.action))
            .collect();
        println!("  checks: {}: {}", checks.verdict, results.join(", "));
    }
    check_cosignature(&bundle.checkpoint, witness)
}

#[derive(Deserialize)]
struct ConsistencyAnswer {
    proof: Vec<String>,
}

/// `airlock receipts audit`'s arguments.
struct Audit<'a> {
    url: &'a str,
    from_checkpoint: &'a PathBuf,
    key: &'a str,
    save: Option<PathBuf>,
    witness: Option<&'a str>,
    receipt: Option<PathBuf>,
}

impl Audit<'_> {
    async fn run(self) -> Result<(), String> {
        let verifier = verifier_key(self.key)?;
        let old_note = String::from_utf8(read(self.from_checkpoint, "checkpoint")?)
            .map_err(|_| format!("{} is not text", self.from_checkpoint.display()))?;
        let old = open_checkpoint(&old_note, &verifier)
            .map_err(|error| format!("the old checkpoint does not verify: {error}"))?;
        let log = LogClient::new(self.url)?;
        let new_note = log.get("/log/checkpoint").await?;
        let new = open_checkpoint(&new_note, &verifier)
            .map_err(|error| format!("the log's checkpoint does not verify: {error}"))?;
        if new.size < old.size {
            return Err(format!(
                "the log shrank: its checkpoint has {} entries, the old one {}: the log was truncated or rewritten",
                new.size, old.size
            ));
        }
        log.prove_prefix(&old, &new).await.map_err(|error| {
            format!(
                "the log's checkpoint of {} entries is not consistent with the old one of {}: {error} \
                 (the log was rewritten)",
                new.size, old.size
            )
        })?;
        println!(
            "consistent: {} (tree of {}) extends the checkpoint of {} entries",
            new.origin, new.size, old.size
        );
        print_checkpoint("old", &old);
        print_checkpoint("new", &new);
        check_cosignature(&new_note, self.witness)?;
        if let Some(path) = &self.receipt {
            let bundle: ReceiptBundle = serde_json::from_slice(&read(path, "receipt")?)
                .map_err(|error| format!("{} is not a receipt: {error}", path.display()))?;
            let none = Bodies {
                request: None,
                response: None,
            };
            let verified = bundle
                .verify(&verifier, none)
                .map_err(|error| format!("receipt {} does not verify: {error}", bundle.id))?;
            let theirs = verified.checkpoint;
            if theirs.size > new.size {
                return Err(format!(
                    "receipt {}'s checkpoint has {} entries, more than the log's latest {}: it is not from this log",
                    bundle.id, theirs.size, new.size
                ));
            }
            log.prove_prefix(&theirs, &new).await.map_err(|error| {
                format!(
                    "receipt {}'s checkpoint of {} entries is not in the log's history: {error}",
                    bundle.id, theirs.size
                )
            })?;
            println!(
                "receipt {} (entry {}) is in the same log: its checkpoint of {} entries is a prefix of the latest",
                bundle.id, verified.leaf_index, theirs.size
            );
        }
        if let Some(path) = self.save {
            std::fs::write(&path, &new_note).map_err(|error| {
                format!("cannot save the checkpoint to {}: {error}", path.display())
            })?;
            println!("saved the new checkpoint to {}", path.display());
        }
        Ok(())
    }
}

/// A gateway's public log routes.
struct LogClient {
    base: String,
    client: reqwest::Client,
}

impl LogClient {
    fn new(url: &str) -> Result<LogClient, String> {
        airlock_providers::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|error| format!("cannot make an HTTP client: {error}"))?;
        Ok(LogClient {
            base: url.trim_end_matches('/').to_string(),
            client,
        })
    }

    async fn get(&self, path: &str) -> Result<String, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|error| format!("GET {url}: {error}"))?;
        if !status.is_success() {
            return Err(format!("GET {url}: {status}: {body}"));
        }
        Ok(body)
    }

    /// Fetches and checks the proof that the tree of `old` is a prefix of
    /// the tree of `new`.
    async fn prove_prefix(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), String> {
        let path = format!("/log/proof/consistency?from={}&to={}", old.size, new.size);
        let answer: ConsistencyAnswer = serde_json::from_str(&self.get(&path).await?)
            .map_err(|error| format!("the consistency proof is not valid JSON: {error}"))?;
        let proof = answer
            .proof
            .iter()
            .map(|hash| Hash::from_base64(hash))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("the consistency proof holds a bad hash: {error}"))?;
        verify_consistency(old.size, new.size, &old.root, &new.root, &proof)
            .map_err(|error| error.to_string())
    }
}

fn print_checkpoint(which: &str, checkpoint: &Checkpoint) {
    println!(
        "  {which}: {} entries, root {}",
        checkpoint.size,
        checkpoint.root.to_base64()
    );
}
