//! The `[exports]` and `[backups]` sections: projects' data exported to the
//! object store, and backups written to a folder, on a schedule (every so
//! many hours from a time of day, UTC), the newest `keep` backups kept.

use std::path::PathBuf;
use std::time::Duration;

use airlock_gateway::exports::{DEFAULT_KINDS, EXPORTABLE, ExportSchedule};
use airlock_store::UserDataKind;
use toml::Spanned;

use super::Resolver;
use super::file::{BackupsSection, ExportsSection};

/// The longest period, in hours: a year.
const MAX_HOURS: u64 = 24 * 366;

/// Backups on a schedule (`[backups]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// Each backup is a folder under it, named by its time.
    pub dir: PathBuf,
    pub every: Duration,
    pub offset: Duration,
    /// How many of the newest scheduled backups are kept.
    pub keep: usize,
}

impl Resolver<'_> {
    pub(super) fn exports(&mut self, section: &Spanned<ExportsSection>) -> Option<ExportSchedule> {
        let exports = section.get_ref();
        let (every, offset) = self.period(section, &exports.every_hours, &exports.at, "exports")?;
        let kinds = match &exports.kinds {
            None => DEFAULT_KINDS.to_vec(),
            Some(names) => {
                let mut kinds = Vec::new();
                for name in names.get_ref() {
                    match UserDataKind::parse(name).filter(|kind| EXPORTABLE.contains(kind)) {
                        Some(kind) => kinds.push(kind),
                        None => self.problem_at(
                            names,
                            format!("exports.kinds: {name:?} is not conversations, transcripts, request_log, content or responses"),
                        ),
                    }
                }
                kinds
            }
        };
        Some(ExportSchedule {
            every,
            offset,
            projects: exports.projects.clone().unwrap_or_default(),
            kinds,
        })
    }

    pub(super) fn backups(&mut self, section: &Spanned<BackupsSection>) -> Option<BackupSchedule> {
        let backups = section.get_ref();
        let Some(dir) = &backups.dir else {
            self.problem_at(
                section,
                "backups.dir is required: the folder backups are written under",
            );
            return None;
        };
        let (every, offset) = self.period(section, &backups.every_hours, &backups.at, "backups")?;
        let keep = match &backups.keep {
            None => 7,
            Some(keep) => match usize::try_from(*keep.get_ref()) {
                Ok(0) | Err(_) => {
                    self.problem_at(keep, "backups.keep must be a whole number from 1");
                    return None;
                }
                Ok(keep) => keep,
            },
        };
        Some(BackupSchedule {
            dir: PathBuf::from(dir.get_ref()),
            every,
            offset,
            keep,
        })
    }

    /// A section's `every_hours` (required, 1 to a year) and `at` (`HH:MM`,
    /// default midnight) as a period and its offset.
    fn period<T>(
        &mut self,
        section: &Spanned<T>,
        every_hours: &Option<Spanned<u64>>,
        at: &Option<Spanned<String>>,
        name: &str,
    ) -> Option<(Duration, Duration)> {
        let Some(hours) = every_hours else {
            self.problem_at(
                section,
                format!("{name}.every_hours is required (24: daily)"),
            );
            return None;
        };
        if !(1..=MAX_HOURS).contains(hours.get_ref()) {
            self.problem_at(
                hours,
                format!("{name}.every_hours must be from 1 to {MAX_HOURS}"),
            );
            return None;
        }
        let offset = match at {
            None => Duration::ZERO,
            Some(at) => match time_of_day(at.get_ref()) {
                Some(offset) => offset,
                None => {
                    self.problem_at(at, format!("{name}.at must be a time of day, HH:MM (UTC)"));
                    return None;
                }
            },
        };
        Some((Duration::from_secs(hours.get_ref() * 3600), offset))
    }
}

/// `HH:MM` as the time since midnight.
fn time_of_day(text: &str) -> Option<Duration> {
    let (hours, minutes) = text.split_once(':')?;
    let (hours, minutes): (u64, u64) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours < 24 && minutes < 60 && text.len() == 5)
        .then(|| Duration::from_secs(hours * 3600 + minutes * 60))
}
