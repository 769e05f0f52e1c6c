//! The `[request_log]` section: how the request and session logs keep their
//! records (`durability`), checked, with the flag over the file.

use super::file::RequestLogSection;
use super::{Overrides, Resolver};

/// How the request and session logs keep their records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDurability {
    /// Queued in memory and inserted in batches: a hard kill loses what was
    /// still queued (the last few tens of milliseconds).
    Fast,
    /// Each record is in a write-ahead log under the data directory, synced
    /// to disk, before the last byte of its answer leaves; what a hard kill
    /// left there is replayed into the database at the next start.
    Durable,
}

impl LogDurability {
    pub const DEFAULT: LogDurability = LogDurability::Fast;

    /// `fast` or `durable`, as the file and the flag write them.
    pub fn parse(text: &str) -> Option<LogDurability> {
        match text {
            "fast" => Some(LogDurability::Fast),
            "durable" => Some(LogDurability::Durable),
            _ => None,
        }
    }
}

impl Resolver<'_> {
    pub(super) fn request_log_durability(
        &mut self,
        section: &RequestLogSection,
        overrides: &Overrides,
    ) -> LogDurability {
        if let Some(durability) = overrides.request_log_durability {
            return durability;
        }
        let Some(field) = &section.durability else {
            return LogDurability::DEFAULT;
        };
        LogDurability::parse(field.get_ref()).unwrap_or_else(|| {
            self.problem_at(
                field,
                format!(
                    "request_log.durability `{}` is not fast or durable",
                    field.get_ref()
                ),
            );
            LogDurability::DEFAULT
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Overrides, load_source};
    use super::LogDurability;

    fn durability(text: Option<&str>, flag: Option<LogDurability>) -> LogDurability {
        let overrides = Overrides {
            request_log_durability: flag,
            ..Overrides::default()
        };
        load_source(text, &overrides, &|_| None)
            .unwrap()
            .request_log_durability
    }

    #[test]
    fn the_flag_wins_over_the_file_and_the_file_over_the_default() {
        let durable = Some("[request_log]\ndurability = \"durable\"\n");
        assert_eq!(durability(None, None), LogDurability::DEFAULT);
        assert_eq!(durability(durable, None), LogDurability::Durable);
        assert_eq!(
            durability(durable, Some(LogDurability::Fast)),
            LogDurability::Fast
        );
        assert_eq!(
            durability(Some("[request_log]\n"), Some(LogDurability::Durable)),
            LogDurability::Durable
        );
    }

    #[test]
    fn an_unknown_durability_or_key_is_a_problem_at_its_line() {
        let text = "[server]\n\n[request_log]\ndurability = \"fsync\"\n";
        let problems = load_source(Some(text), &Overrides::default(), &|_| None).unwrap_err();
        let found: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [(
                Some(4),
                "request_log.durability `fsync` is not fast or durable"
            )]
        );
        let problems = load_source(
            Some("[request_log]\ndurable = true\n"),
            &Overrides::default(),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!(problems[0].line, Some(2), "{problems:?}");
    }
}
