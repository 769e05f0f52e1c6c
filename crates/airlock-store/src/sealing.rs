//! Encryption at rest of stored user content: AES-256-GCM (`ring`) over
//! the columns that hold what people said ([`SealedColumn`]: logged
//! content, transcripts, conversation items, stored Responses turns) and
//! the objects that do (archived content, documents' extracted text),
//! under the operator's data key. A sealed value is
//! `enc1:{key id}:{base64(nonce ‖ ciphertext ‖ tag)}`, its associated data
//! the table and column (a value moved to another column does not open);
//! the key id is the first 8 bytes of the key's SHA-256 in hex, so a value
//! names the key that opens it. A value without the prefix was written
//! before encryption was turned on and is read as it is.
//!
//! Rotation: the [`Sealer`] holds the current key and the previous ones;
//! values are read under whichever key they name and written under the
//! current one, and [`Store::reseal_batch`] rewrites, a bounded batch at a
//! time, the values not yet under the current key.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use sqlx::QueryBuilder;

use crate::database::on_pool;
use crate::{Store, StoreError};

/// What marks a sealed value.
const PREFIX: &str = "enc1:";

/// A column of user content that is sealed when a key is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    ContentRequest,
    ContentResponse,
    Transcript,
    ConversationItem,
    ResponseInput,
    ResponseOutput,
    /// An archived object of user content in the object store (not a
    /// column: never resealed by [`Store::reseal_batch`]).
    Archive,
    /// A document's extracted text in the object store (`file-text/{id}`;
    /// not resealed either).
    ExtractedText,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 6] = [
        SealedColumn::ContentRequest,
        SealedColumn::ContentResponse,
        SealedColumn::Transcript,
        SealedColumn::ConversationItem,
        SealedColumn::ResponseInput,
        SealedColumn::ResponseOutput,
    ];

    /// Its table, column and the columns that identify a row.
    pub(crate) fn place(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            SealedColumn::ContentRequest => ("request_content", "request", &["id"]),
            SealedColumn::ContentResponse => ("request_content", "response", &["id"]),
            SealedColumn::Transcript => ("realtime_sessions", "transcript", &["id"]),
            SealedColumn::ConversationItem => (
                "conversation_items",
                "item",
                &["conversation_id", "position"],
            ),
            SealedColumn::ResponseInput => ("stored_responses", "input_items", &["id"]),
            SealedColumn::ResponseOutput => ("stored_responses", "response", &["id"]),
            SealedColumn::Archive => ("archive", "object", &[]),
            SealedColumn::ExtractedText => ("file-text", "object", &[]),
        }
    }

    /// `table.column`, as the seal's associated data and in reports.
    pub fn name(self) -> String {
        let (table, column, _) = self.place();
        format!("{table}.{column}")
    }

    /// The sealed column of `table`'s `column`, if it is one.
    pub(crate) fn of(table: &str, column: &str) -> Option<SealedColumn> {
        SealedColumn::ALL.into_iter().find(|sealed| {
            let (t, c, _) = sealed.place();
            t == table && c == column
        })
    }
}

/// One data key and its id.
struct DataKey {
    id: String,
    key: LessSafeKey,
}

impl DataKey {
    fn new(bytes: &[u8]) -> Result<DataKey, String> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| "a data key is 32 bytes (base64 of 32 random bytes)".to_string())?;
        Ok(DataKey {
            id: hex::encode(&Sha256::digest(bytes)[..8]),
            key: LessSafeKey::new(unbound),
        })
    }
}

/// Seals and opens values with the current key and the previous ones.
pub struct Sealer {
    current: DataKey,
    previous: HashMap<String, DataKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &self.current.id)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// With `current` (32 bytes) and the keys rows may still be sealed
    /// under; or why a key is refused.
    pub fn new(current: &[u8], previous: &[Vec<u8>]) -> Result<Sealer, String> {
        let current = DataKey::new(current)?;
        let mut keys = HashMap::new();
        for key in previous {
            let key = DataKey::new(key)?;
            keys.insert(key.id.clone(), key);
        }
        Ok(Sealer {
            current,
            previous: keys,
            random: SystemRandom::new(),
        })
    }

    /// The current key's id.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// `plain` sealed under the current key for `column`.
    pub fn seal(&self, column: SealedColumn, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        // The system's randomness does not fail on a running system.
        self.random.fill(&mut nonce).unwrap_or_default();
        let mut sealed = plain.as_bytes().to_vec();
        let aad = column.name();
        // Sealing fails only for inputs over ~64 GiB.
        let _ = self.current.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut sealed,
        );
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", self.current.id, STANDARD.encode(bytes))
    }

    /// A stored value of `column` opened (a value that is not sealed is
    /// given as it is).
    pub fn open(&self, column: SealedColumn, stored: String) -> Result<String, StoreError> {
        open_with(Some(self), column, stored)
    }

    fn key(&self, id: &str) -> Option<&DataKey> {
        match id == self.current.id {
            true => Some(&self.current),
            false => self.previous.get(id),
        }
    }
}

/// A stored value opened with `sealer` (a sealed one without a sealer, or
/// under a key it does not hold, is refused).
pub(crate) fn open_with(
    sealer: Option<&Sealer>,
    column: SealedColumn,
    stored: String,
) -> Result<String, StoreError> {
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return Ok(stored);
    };
    let refused = |why: &str| StoreError::Sealed(format!("{}: {why}", column.name()));
    let (id, encoded) = rest
        .split_once(':')
        .ok_or_else(|| refused("not a sealed value"))?;
    let sealer = sealer.ok_or_else(|| refused("sealed, and no data key is configured"))?;
    let key = sealer
        .key(id)
        .ok_or_else(|| refused(&format!("sealed under key {id}, which is not configured")))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| refused("not a sealed value"))?;
    if bytes.len() < NONCE_LEN {
        return Err(refused("not a sealed value"));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused("bad nonce"))?;
    let mut sealed = sealed.to_vec();
    let aad = column.name();
    let plain = key
        .key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut sealed)
        .map_err(|_| refused("it does not open under its key (altered, or moved)"))?;
    String::from_utf8(plain.to_vec()).map_err(|_| refused("not text"))
}

impl Store {
    /// This store, sealing user content under `sealer`'s key from now on
    /// (and opening what older keys sealed).
    pub fn sealed(mut self, sealer: std::sync::Arc<Sealer>) -> Store {
        self.sealer = Some(sealer);
        self
    }

    /// The id of the key user content is sealed under, when one is.
    pub fn sealing_key_id(&self) -> Option<&str> {
        self.sealer.as_deref().map(Sealer::key_id)
    }

    /// `plain` as `column` stores it: sealed when a key is configured.
    pub fn seal(&self, column: SealedColumn, plain: String) -> String {
        match &self.sealer {
            Some(sealer) => sealer.seal(column, &plain),
            None => plain,
        }
    }

    /// A stored value of `column`, opened.
    pub fn unseal(&self, column: SealedColumn, stored: String) -> Result<String, StoreError> {
        open_with(self.sealer.as_deref(), column, stored)
    }

    /// Rewrites at most `limit` values of `column` that are not sealed
    /// under the current key (plain ones, or sealed under a previous
    /// key); how many. Without a key, nothing.
    pub async fn reseal_batch(&self, column: SealedColumn, limit: u32) -> Result<u64, StoreError> {
        let Some(sealer) = self.sealer.clone() else {
            return Ok(0);
        };
        if matches!(column, SealedColumn::Archive | SealedColumn::ExtractedText) {
            return Ok(0);
        }
        let (table, value, keys) = column.place();
        let current = format!("{PREFIX}{}:%", sealer.key_id());
        let selected = keys.join(", ");
        let rows: Vec<(Vec<String>, String)> = on_pool!(&self.pools, pool => {
            let mut query = QueryBuilder::new(format!(
                "SELECT {selected}, {value} FROM {table} WHERE {value} NOT LIKE "
            ));
            query.push_bind(current.clone()).push(" LIMIT ").push_bind(i64::from(limit));
            let rows = query.build().fetch_all(pool).await?;
            let mut found = Vec::with_capacity(rows.len());
            for row in &rows {
                use sqlx::Row;
                let mut identity = Vec::new();
                for index in 0..keys.len() {
                    let part = match row.try_get::<String, _>(index) {
                        Ok(text) => text,
                        Err(_) => row.try_get::<i64, _>(index)?.to_string(),
                    };
                    identity.push(part);
                }
                found.push((identity, row.try_get::<String, _>(keys.len())?));
            }
            found
        });
        let mut resealed = 0;
        for (identity, stored) in rows {
            let plain = sealer.open(column, stored)?;
            let sealed = sealer.seal(column, &plain);
            on_pool!(&self.pools, pool => {
                let mut query = QueryBuilder::new(format!("UPDATE {table} SET {value} = "));
                query.push_bind(sealed.clone()).push(" WHERE ");
                for (index, (key, part)) in keys.iter().zip(&identity).enumerate() {
                    if index > 0 {
                        query.push(" AND ");
                    }
                    match *key == "position" {
                        true => query.push(format!("{key} = ")).push_bind(part.parse::<i64>().unwrap_or(-1)),
                        false => query.push(format!("{key} = ")).push_bind(part.clone()),
                    };
                }
                resealed += query.build().execute(pool).await?.rows_affected();
            });
        }
        Ok(resealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_under_its_key_for_its_column_only() {
        let sealer = Sealer::new(&[7; 32], &[]).unwrap();
        let sealed = sealer.seal(SealedColumn::Transcript, "call me at 555");
        assert!(sealed.starts_with(&format!("enc1:{}:", sealer.key_id())));
        assert!(!sealed.contains("555"));
        assert_eq!(
            sealer
                .open(SealedColumn::Transcript, sealed.clone())
                .unwrap(),
            "call me at 555"
        );
        assert!(
            sealer
                .open(SealedColumn::ConversationItem, sealed.clone())
                .is_err()
        );
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(sealer.open(SealedColumn::Transcript, altered).is_err());
        // A value written before encryption is read as it is.
        assert_eq!(
            sealer.open(SealedColumn::Transcript, "[]".into()).unwrap(),
            "[]"
        );
    }

    #[test]
    fn a_rotated_key_still_opens_what_the_previous_one_sealed() {
        let old = Sealer::new(&[1; 32], &[]).unwrap();
        let sealed = old.seal(SealedColumn::ContentRequest, "hello");
        let rotated = Sealer::new(&[2; 32], &[vec![1; 32]]).unwrap();
        assert_ne!(rotated.key_id(), old.key_id());
        assert_eq!(
            rotated
                .open(SealedColumn::ContentRequest, sealed.clone())
                .unwrap(),
            "hello"
        );
        let forgotten = Sealer::new(&[2; 32], &[]).unwrap();
        let refused = forgotten
            .open(SealedColumn::ContentRequest, sealed)
            .unwrap_err();
        assert!(refused.to_string().contains("not configured"), "{refused}");
        assert!(Sealer::new(&[1; 16], &[]).is_err());
    }
}
