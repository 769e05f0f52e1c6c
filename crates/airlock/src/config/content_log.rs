//! The `[content_log]` section: the operator's own redaction patterns for
//! the content projects log (`log_content`), beyond the personal data
//! always redacted. An invalid regex is a problem at its line.

use airlock_documents::Redactor;

use super::Resolver;
use super::file::ContentLogSection;

impl Resolver<'_> {
    pub(super) fn content_log(&mut self, section: &ContentLogSection) -> Redactor {
        let Some(patterns) = &section.redact_patterns else {
            return Redactor::default();
        };
        match Redactor::new(patterns.get_ref()) {
            Ok(redactor) => redactor,
            Err(problem) => {
                self.problem_at(patterns, format!("content_log.redact_patterns: {problem}"));
                Redactor::default()
            }
        }
    }
}
