//! The `[cache]` section: the response cache's default time to live and
//! the sizes of its tiers (memory, everything stored, and the largest body
//! kept inline in the database rather than in the media object store).
//! Which requests use the cache is per request, project and route (see
//! `docs/cache.md`); this only sizes it.

use std::time::Duration;

use airlock_gateway::cache::{CacheSettings, TierLimits};
use toml::Spanned;

use super::Resolver;
use super::file::CacheSection;

pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
/// The longest a kept answer may live: 30 days.
pub const MAX_TTL_SECS: u64 = airlock_gateway::cache::policy::MAX_TTL.as_secs();
pub const DEFAULT_MEMORY_MB: u64 = 64;
pub const DEFAULT_MAX_MB: u64 = 1024;
pub const DEFAULT_INLINE_KB: u64 = 64;

impl Resolver<'_> {
    pub(super) fn cache(&mut self, section: &CacheSection) -> CacheSettings {
        if let Some(ttl) = &section.ttl_secs
            && !(1..=MAX_TTL_SECS).contains(ttl.get_ref())
        {
            self.problem_at(
                ttl,
                format!("cache.ttl_secs must be between 1 and {MAX_TTL_SECS} (30 days)"),
            );
        }
        if let Some(max) = &section.max_mb
            && *max.get_ref() == 0
        {
            self.problem_at(max, "cache.max_mb must be at least 1");
        }
        let mb = |value: &Option<Spanned<u64>>, default: u64| {
            value
                .as_ref()
                .map_or(default, |v| *v.get_ref())
                .saturating_mul(1 << 20)
        };
        CacheSettings {
            default_ttl: section
                .ttl_secs
                .as_ref()
                .map_or(DEFAULT_TTL, |secs| Duration::from_secs(*secs.get_ref())),
            limits: TierLimits {
                memory_bytes: mb(&section.memory_mb, DEFAULT_MEMORY_MB),
                max_bytes: mb(&section.max_mb, DEFAULT_MAX_MB),
                inline_bytes: section
                    .inline_kb
                    .as_ref()
                    .map_or(DEFAULT_INLINE_KB, |kb| *kb.get_ref())
                    .saturating_mul(1024)
                    .try_into()
                    .unwrap_or(usize::MAX),
            },
        }
    }
}
