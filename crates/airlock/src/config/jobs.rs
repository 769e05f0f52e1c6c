//! The `[jobs]` section: how many items of background jobs (batch
//! requests, pre-generation) the job runner runs at once, across all jobs
//! and per job.

use airlock_jobs::RunnerLimits;

use super::Resolver;
use super::file::JobsSection;

impl Resolver<'_> {
    pub(super) fn jobs(&mut self, section: &JobsSection) -> RunnerLimits {
        let mut limits = RunnerLimits::default();
        let bounds = [
            (
                &section.concurrency,
                "jobs.concurrency",
                &mut limits.concurrency,
            ),
            (&section.per_job, "jobs.per_job", &mut limits.per_job),
        ];
        for (value, name, limit) in bounds {
            let Some(value) = value else { continue };
            match usize::try_from(*value.get_ref()) {
                Ok(0) | Err(_) => {
                    self.problem_at(value, format!("{name} must be a whole number from 1"))
                }
                Ok(count) => *limit = count,
            }
        }
        limits
    }
}
