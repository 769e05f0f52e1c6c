//! The `[encryption]` section: the data key stored user content is sealed
//! under at rest (AES-256-GCM, `airlock_store::Sealer`), and the previous
//! keys rows may still be sealed under while they are resealed. Keys are
//! secret references (`env:NAME` / `file:PATH`) to base64 of 32 random
//! bytes (`openssl rand -base64 32`).

use std::sync::Arc;

use airlock_store::Sealer;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use toml::Spanned;

use super::Resolver;
use super::file::EncryptionSection;

impl Resolver<'_> {
    pub(super) fn encryption(&mut self, section: &EncryptionSection) -> Option<Arc<Sealer>> {
        let current = self.data_key(&section.key, "encryption.key")?;
        let mut previous = Vec::new();
        for key in section.previous_keys.iter().flatten() {
            previous.push(self.data_key(key, "encryption.previous_keys")?);
        }
        match Sealer::new(&current, &previous) {
            Ok(sealer) => Some(Arc::new(sealer)),
            Err(message) => {
                self.problem_at(&section.key, format!("encryption.key: {message}"));
                None
            }
        }
    }

    /// A key's 32 bytes from its secret reference.
    fn data_key(&mut self, field: &Spanned<String>, what: &str) -> Option<Vec<u8>> {
        let text = self.secret(field, what)?;
        match STANDARD.decode(text.trim()) {
            Ok(bytes) if bytes.len() == 32 => Some(bytes),
            _ => {
                self.problem_at(
                    field,
                    format!(
                        "{what}: a data key is base64 of 32 random bytes (openssl rand -base64 32)"
                    ),
                );
                None
            }
        }
    }
}
