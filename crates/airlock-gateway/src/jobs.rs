//! The background jobs this gateway runs, all on the one job runner
//! (`airlock-jobs`): pre-generation ([`crate::pregen`]), batches
//! ([`crate::batches`]) and GDPR exports ([`crate::user_data::job`]).

use std::sync::Arc;

use airlock_jobs::{JobKind, JobRunner, RunnerLimits};
use airlock_store::StoreError;

use crate::state::AppState;

/// Starts the job runner with every kind of job and registers it in the
/// state; whoever starts it owns it.
pub async fn start_runner(
    state: &AppState,
    limits: RunnerLimits,
) -> Result<Arc<JobRunner>, StoreError> {
    let mut kinds: Vec<Arc<dyn JobKind>> =
        vec![Arc::new(crate::pregen::Pregenerate::new(state.clone()))];
    kinds.extend(crate::batches::kinds(state));
    if let Some(media) = state.media() {
        let store = state.config().store.clone();
        let export = crate::user_data::job::UserExport::new(store, media.blobs().clone());
        kinds.push(Arc::new(export));
    }
    let runner = Arc::new(JobRunner::start(state.config().store.clone(), kinds, limits).await?);
    state.set_jobs(&runner);
    Ok(runner)
}
