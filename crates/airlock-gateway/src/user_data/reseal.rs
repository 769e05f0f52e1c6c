//! Key rotation: after the data key changes (`[encryption] key`, the old
//! one kept in `previous_keys`), a `reseal` job of the one runner rewrites
//! every sealed column's values that are not yet under the current key,
//! 500 at a time with a yield between, one item per column
//! ([`airlock_store::SealedColumn`]), then the sealed objects of the
//! object store (documents' extracted text, archived content). Values are
//! read under whichever key
//! they name meanwhile, so nothing waits for it; once it completes, the
//! previous keys can be dropped from the configuration. It is submitted
//! once per key, when the gateway starts ([`submit_if_needed`]); values
//! written before encryption was turned on are sealed by it too.

use airlock_jobs::{BoxFuture, ItemOutcome, JobInfo, JobKind, JobListing, JobRunner};
use airlock_store::{Blobs, SealedColumn, Store};
use serde_json::{Value, json};

/// The kind's name, as jobs are stored with it.
pub const KIND: &str = "reseal";
/// The job setting naming the key it reseals under.
pub const PARAM_KEY_ID: &str = "key_id";
/// Values rewritten per statement.
const BATCH: u32 = 500;

/// The sealed objects of the object store: their prefix, and what they
/// are sealed as.
const OBJECTS: [(&str, SealedColumn); 2] = [
    ("file-text", SealedColumn::ExtractedText),
    ("archive", SealedColumn::Archive),
];

/// Runs reseal jobs' items.
pub struct Reseal {
    store: Store,
    blobs: Option<Blobs>,
}

impl Reseal {
    pub fn new(store: Store, blobs: Option<Blobs>) -> Reseal {
        Reseal { store, blobs }
    }

    /// Reseals the objects under `prefix` not yet under the current key.
    async fn reseal_objects(&self, prefix: &str) -> Result<Value, String> {
        let (Some(blobs), Some(key_id)) = (&self.blobs, self.store.sealing_key_id()) else {
            return Ok(json!({"resealed": 0}));
        };
        let column = OBJECTS
            .iter()
            .find(|(known, _)| *known == prefix)
            .map(|(_, column)| *column)
            .ok_or_else(|| format!("no sealed objects under {prefix:?}"))?;
        let current = format!("enc1:{key_id}:");
        let mut resealed = 0;
        for object in blobs.list(prefix).await.map_err(|e| e.to_string())? {
            let bytes = match blobs.get(&object.key, None).await {
                Ok(found) => found.bytes().await.map_err(|e| e.to_string())?,
                // Deleted meanwhile: nothing to reseal.
                Err(airlock_store::BlobError::NotFound) => continue,
                Err(error) => return Err(error.to_string()),
            };
            if bytes.starts_with(current.as_bytes()) {
                continue;
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let plain = self.store.unseal(column, text).map_err(|e| e.to_string())?;
            let sealed = self.store.seal(column, plain);
            blobs
                .put(&object.key, sealed.into(), "text/plain; charset=utf-8")
                .await
                .map_err(|e| e.to_string())?;
            resealed += 1;
        }
        Ok(json!({"resealed": resealed}))
    }

    async fn run_item(&self, item: &Value) -> Result<Value, String> {
        if let Some(prefix) = item.get("objects").and_then(Value::as_str) {
            return self.reseal_objects(prefix).await;
        }
        let name = item
            .get("column")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let column = SealedColumn::ALL
            .into_iter()
            .find(|column| column.name() == name)
            .ok_or_else(|| format!("no sealed column {name:?}"))?;
        let mut resealed = 0;
        loop {
            let done = self
                .store
                .reseal_batch(column, BATCH)
                .await
                .map_err(|e| e.to_string())?;
            resealed += done;
            if done < u64::from(BATCH) {
                return Ok(json!({"resealed": resealed}));
            }
            tokio::task::yield_now().await;
        }
    }
}

impl JobKind for Reseal {
    fn name(&self) -> &'static str {
        KIND
    }

    fn run<'a>(&'a self, _job: &'a JobInfo, item: &'a Value) -> BoxFuture<'a, ItemOutcome> {
        Box::pin(async move { ItemOutcome::of(self.run_item(item).await) })
    }
}

/// Submits a reseal job for the store's current key unless one was
/// submitted before; the job's id when one was.
pub async fn submit_if_needed(
    runner: &JobRunner,
    store: &Store,
) -> Result<Option<String>, airlock_jobs::JobError> {
    let Some(key_id) = store.sealing_key_id() else {
        return Ok(None);
    };
    let listing = JobListing {
        kind: Some(KIND),
        owner: Some(None),
        before: None,
        limit: 100,
    };
    let submitted = runner.list(&listing).await?.iter().any(|progress| {
        progress
            .job
            .params
            .get(PARAM_KEY_ID)
            .and_then(Value::as_str)
            == Some(key_id)
    });
    if submitted {
        return Ok(None);
    }
    let mut items: Vec<Value> = SealedColumn::ALL
        .iter()
        .map(|column| json!({"column": column.name()}))
        .collect();
    items.extend(OBJECTS.iter().map(|(prefix, _)| json!({"objects": prefix})));
    let params = json!({PARAM_KEY_ID: key_id, airlock_jobs::PARAM_CONCURRENCY: 1});
    let job = runner.submit(KIND, None, params, &items).await?;
    Ok(Some(job.job.id))
}
