//! The `[files]` section: the largest file the Files APIs take and the
//! types they accept, unless a project's settings say otherwise (see
//! `docs/files.md`).

use airlock_gateway::files::FileSettings;

use super::Resolver;
use super::file::FilesSection;

impl Resolver<'_> {
    pub(super) fn files(&mut self, section: &FilesSection) -> FileSettings {
        let mut settings = FileSettings::default();
        if let Some(max_mb) = &section.max_mb {
            match *max_mb.get_ref() {
                0 => self.problem_at(max_mb, "files.max_mb must be at least 1"),
                mb => settings.max_bytes = mb.saturating_mul(1 << 20),
            }
        }
        if let Some(types) = &section.accepted_types {
            match airlock_documents::AcceptedTypes::new(types.get_ref()) {
                Ok(accepted) => settings.accepted = accepted,
                Err(problem) => self.problem_at(types, format!("files.accepted_types: {problem}")),
            }
        }
        settings
    }
}
