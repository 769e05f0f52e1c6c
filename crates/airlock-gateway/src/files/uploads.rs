//! Files that arrive in parts: OpenAI's Uploads API (parts in any order,
//! put in order at completion) and Gemini's resumable uploads (chunks at
//! the offset received so far). Each part's bytes are stored as they come
//! (`uploads/{upload}/{part}`), its row in one transaction with the bytes
//! counted (a resumable upload's last chunk, sent with its finalize, is
//! joined from memory); completing claims the upload once (a second completion is
//! refused), joins the parts in memory, and keeps the file as a single
//! upload is kept ([`Files::keep`]). A completion that fails leaves
//! nothing behind: the upload is cancelled and its parts deleted.

use airlock_store::{
    PartRefused, StoredFile, StoredUpload, UploadPart, UploadProtocol, UploadState,
};
use bytes::{Bytes, BytesMut};

use super::{FileError, FileRules, Files, NewFile};

/// How long an upload may take, as OpenAI allows: an hour.
pub const UPLOAD_TTL_MS: i64 = 60 * 60 * 1000;

/// An upload to begin.
pub struct NewUpload {
    pub project_id: Option<String>,
    /// The end user a verified token named.
    pub end_user: Option<String>,
    pub protocol: UploadProtocol,
    pub purpose: String,
    pub filename: String,
    pub declared_type: String,
    pub bytes: u64,
    /// How long the file it becomes is kept; `None`: until deleted.
    pub file_ttl_ms: Option<i64>,
}

/// How a completed upload's parts are put together.
pub enum PartOrder<'a> {
    /// In the order the client lists their ids (OpenAI); every part listed
    /// once, no other. With `md5` (hex), the joined bytes must have it.
    Listed {
        ids: &'a [String],
        md5: Option<&'a str>,
    },
    /// By offset (Gemini's chunks), then `last_chunk`, a last chunk
    /// sent with the completion and not stored.
    Offsets { last_chunk: Option<Bytes> },
}

impl Files {
    /// Begins an upload; a declared size over the project's limit is
    /// refused before any byte is sent.
    pub async fn start_upload(
        &self,
        new: NewUpload,
        rules: &FileRules,
        now_ms: i64,
    ) -> Result<StoredUpload, FileError> {
        if new.bytes > rules.max_bytes {
            return Err(FileError::TooLarge {
                bytes: new.bytes,
                limit: rules.max_bytes,
            });
        }
        let upload = StoredUpload {
            id: new_upload_id(),
            project_id: new.project_id,
            end_user: new.end_user,
            protocol: new.protocol,
            purpose: new.purpose,
            filename: new.filename,
            declared_type: new.declared_type,
            bytes: new.bytes,
            received: 0,
            state: UploadState::Pending,
            file_id: None,
            file_ttl_ms: new.file_ttl_ms,
            created_at_ms: now_ms,
            expires_at_ms: now_ms + UPLOAD_TTL_MS,
        };
        self.store.insert_upload(&upload).await?;
        Ok(upload)
    }

    /// An upload, when it is `owner`'s (`Some`: a project's, or the
    /// master key's `None`) or, for a resumable upload whose id is the
    /// client's capability, anyone's (`owner` itself `None`). One past its
    /// time is expired (and its parts let go).
    pub async fn upload(
        &self,
        owner: Option<Option<&str>>,
        id: &str,
        now_ms: i64,
    ) -> Result<StoredUpload, FileError> {
        let not_found = || FileError::NotFound { id: id.to_string() };
        let upload = self.store.upload(id).await?.ok_or_else(not_found)?;
        if owner.is_some_and(|owner| owner != upload.project_id.as_deref()) {
            return Err(not_found());
        }
        if upload.state == UploadState::Pending && upload.expires_at_ms <= now_ms {
            return self.end(&upload, UploadState::Expired).await;
        }
        Ok(upload)
    }

    /// Stores one part of a pending upload: a resumable chunk only at
    /// `at_offset`, the bytes received so far.
    pub async fn add_part(
        &self,
        upload: &StoredUpload,
        bytes: Bytes,
        at_offset: Option<u64>,
        now_ms: i64,
    ) -> Result<(UploadPart, StoredUpload), FileError> {
        let mut part = UploadPart {
            id: format!("part_{}", uuid::Uuid::new_v4().simple()),
            upload_id: upload.id.clone(),
            seq: 0,
            bytes: bytes.len() as u64,
            blob_key: String::new(),
            created_at_ms: now_ms,
        };
        part.blob_key = format!("uploads/{}/{}", upload.id, part.id);
        self.blobs
            .put(&part.blob_key, bytes, "application/octet-stream")
            .await?;
        let refused = match self.store.add_upload_part(&part, at_offset).await {
            Ok(Ok(now)) => return Ok((part, now)),
            Ok(Err(refusal)) => refused_part(upload, refusal),
            Err(error) => error.into(),
        };
        self.forget_blob(&part.blob_key).await;
        Err(refused)
    }

    /// Completes a pending upload into a file (see the module's doc).
    pub async fn complete(
        &self,
        upload: &StoredUpload,
        order: PartOrder<'_>,
        rules: &FileRules,
        new_id: Option<String>,
        now_ms: i64,
    ) -> Result<(StoredUpload, StoredFile), FileError> {
        let Some(claimed) = self
            .store
            .set_upload_state(
                &upload.id,
                &[UploadState::Pending],
                UploadState::Completing,
                None,
            )
            .await?
        else {
            let now = self.store.upload(&upload.id).await?;
            return Err(not_pending(
                upload,
                now.map_or(UploadState::Cancelled, |u| u.state),
            ));
        };
        let kept = async {
            let bytes = self.joined(&claimed, order).await?;
            let new = NewFile {
                id: new_id,
                project_id: claimed.project_id.clone(),
                end_user: claimed.end_user.clone(),
                purpose: claimed.purpose.clone(),
                filename: claimed.filename.clone(),
                bytes,
                expires_at_ms: claimed.file_ttl_ms.map(|ttl| now_ms + ttl),
            };
            self.keep(new, rules, now_ms).await
        }
        .await;
        match kept {
            Ok(file) => {
                let done = self
                    .store
                    .set_upload_state(
                        &upload.id,
                        &[UploadState::Completing],
                        UploadState::Completed,
                        Some(&file.id),
                    )
                    .await?
                    .ok_or(FileError::Unavailable)?;
                self.forget_parts(&upload.id).await?;
                Ok((done, file))
            }
            Err(error) => {
                self.end(&claimed, UploadState::Cancelled).await?;
                Err(error)
            }
        }
    }

    /// Cancels a pending upload and lets its parts go.
    pub async fn cancel(&self, upload: &StoredUpload) -> Result<StoredUpload, FileError> {
        if upload.state != UploadState::Pending {
            return Err(not_pending(upload, upload.state));
        }
        self.end(upload, UploadState::Cancelled).await
    }

    /// The parts' bytes, in order, checked to add up to the declared size.
    async fn joined(
        &self,
        upload: &StoredUpload,
        order: PartOrder<'_>,
    ) -> Result<Bytes, FileError> {
        let mut parts = self.store.upload_parts(&upload.id).await?;
        let mut expected_md5 = None;
        let mut last_chunk = None;
        if let PartOrder::Offsets { last_chunk: chunk } = order {
            last_chunk = chunk;
        } else if let PartOrder::Listed { ids, md5 } = order {
            expected_md5 = md5;
            let mut listed = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(at) = parts.iter().position(|part| &part.id == id) else {
                    return Err(FileError::Invalid {
                        message: format!(
                            "The part {id} is not a part of upload {}, or is listed twice.",
                            upload.id
                        ),
                        param: Some("part_ids"),
                    });
                };
                listed.push(parts.swap_remove(at));
            }
            if let Some(left) = parts.first() {
                return Err(FileError::Invalid {
                    message: format!(
                        "The part {} of upload {} is not listed.",
                        left.id, upload.id
                    ),
                    param: Some("part_ids"),
                });
            }
            parts = listed;
        }
        let stored: u64 = parts.iter().map(|part| part.bytes).sum();
        let total = stored + last_chunk.as_ref().map_or(0, |chunk| chunk.len() as u64);
        if total != upload.bytes {
            return Err(FileError::Invalid {
                message: format!(
                    "The parts hold {total} bytes; the upload was declared as {} bytes.",
                    upload.bytes
                ),
                param: Some("bytes"),
            });
        }
        let mut joined = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
        for part in &parts {
            joined.extend_from_slice(&self.blobs.get(&part.blob_key, None).await?.bytes().await?);
        }
        if let Some(chunk) = last_chunk {
            joined.extend_from_slice(&chunk);
        }
        if let Some(expected) = expected_md5 {
            let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(&joined));
            if !md5.eq_ignore_ascii_case(expected.trim()) {
                return Err(FileError::Invalid {
                    message: format!("The parts' MD5 is {md5}, not the {expected} given."),
                    param: Some("md5"),
                });
            }
        }
        Ok(joined.freeze())
    }

    /// Moves an upload to an end state and lets its parts go.
    async fn end(&self, upload: &StoredUpload, to: UploadState) -> Result<StoredUpload, FileError> {
        let from = [UploadState::Pending, UploadState::Completing];
        let ended = self
            .store
            .set_upload_state(&upload.id, &from, to, None)
            .await?;
        self.forget_parts(&upload.id).await?;
        match ended {
            Some(ended) => Ok(ended),
            // Ended meanwhile by another request: as it now is.
            None => Ok(self
                .store
                .upload(&upload.id)
                .await?
                .unwrap_or_else(|| upload.clone())),
        }
    }

    async fn forget_parts(&self, upload_id: &str) -> Result<(), FileError> {
        for part in self.store.upload_parts(upload_id).await? {
            self.forget_blob(&part.blob_key).await;
        }
        self.store.delete_upload_parts(upload_id).await?;
        Ok(())
    }

    /// Expires the uploads past their time, at most `limit`; says how many.
    pub async fn sweep_uploads(&self, now_ms: i64, limit: u32) -> Result<usize, FileError> {
        let expired = self.store.expired_uploads(now_ms, limit).await?;
        for upload in &expired {
            self.end(upload, UploadState::Expired).await?;
        }
        Ok(expired.len())
    }
}

fn refused_part(upload: &StoredUpload, refusal: PartRefused) -> FileError {
    match refusal {
        PartRefused::NoUpload => FileError::NotFound {
            id: upload.id.clone(),
        },
        PartRefused::NotPending(state) => not_pending(upload, state),
        PartRefused::WrongOffset { received } => FileError::WrongOffset { received },
        PartRefused::TooLarge { bytes, received } => FileError::Invalid {
            message: format!(
                "The part would take upload {} past its declared {bytes} bytes ({received} received).",
                upload.id
            ),
            param: Some("data"),
        },
    }
}

fn not_pending(upload: &StoredUpload, state: UploadState) -> FileError {
    FileError::Invalid {
        message: format!(
            "Upload {} is {}, not pending: it takes no more parts and cannot be completed again.",
            upload.id,
            state.name()
        ),
        param: None,
    }
}

/// `upload_` and 64 random hex digits: a resumable upload's id is all a
/// client needs to send its bytes, so it must not be guessable.
fn new_upload_id() -> String {
    format!(
        "upload_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}
