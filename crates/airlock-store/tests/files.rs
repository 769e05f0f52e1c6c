//! Uploaded files and uploads in progress, each behaviour run against
//! SQLite and against PostgreSQL (`AIRLOCK_TEST_POSTGRES_URL`; without it
//! the PostgreSQL tests fail, never skip). Every test gets a fresh database.

use airlock_store::{
    FileListing, FileState, PartRefused, Store, StoredFile, StoredUpload, UploadPart,
    UploadProtocol, UploadState, on_both_stores,
};

fn file(id: &str, project: Option<&str>, created_at_ms: i64) -> StoredFile {
    StoredFile {
        id: id.into(),
        project_id: project.map(str::to_string),
        end_user: None,
        purpose: "user_data".into(),
        filename: format!("{id}.pdf"),
        content_type: "application/pdf".into(),
        bytes: 1_234,
        sha256: "ab".repeat(32),
        blob_key: format!("files/{id}"),
        state: FileState::Active,
        error: None,
        text_key: Some(format!("file-text/{id}")),
        document: Some(serde_json::json!({"pages": 3, "title": "Report"})),
        created_at_ms,
        expires_at_ms: None,
    }
}

fn listing(project: Option<&str>) -> FileListing<'_> {
    FileListing {
        project,
        purpose: None,
        after: None,
        limit: 100,
        newest_first: true,
        now_ms: 10_000,
    }
}

fn ids(files: &[StoredFile]) -> Vec<&str> {
    files.iter().map(|file| file.id.as_str()).collect()
}

fn upload(id: &str, protocol: UploadProtocol, bytes: u64) -> StoredUpload {
    StoredUpload {
        id: id.into(),
        project_id: Some("proj_1".into()),
        end_user: None,
        protocol,
        purpose: "batch".into(),
        filename: "requests.jsonl".into(),
        declared_type: "application/jsonl".into(),
        bytes,
        received: 0,
        state: UploadState::Pending,
        file_id: None,
        file_ttl_ms: Some(3_600_000),
        created_at_ms: 1_000,
        expires_at_ms: 5_000,
    }
}

fn part(id: &str, upload_id: &str, bytes: u64) -> UploadPart {
    UploadPart {
        id: id.into(),
        upload_id: upload_id.into(),
        seq: 0,
        bytes,
        blob_key: format!("uploads/{upload_id}/{id}"),
        created_at_ms: 2_000,
    }
}

async fn a_file_is_stored_read_back_and_deleted_once(store: Store) {
    let stored = file("file-a", Some("proj_1"), 1_000);
    store.insert_file(&stored).await.unwrap();
    assert!(matches!(
        store.insert_file(&stored).await,
        Err(airlock_store::StoreError::Conflict)
    ));
    assert_eq!(
        store.file("file-a", 2_000).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.delete_file("file-a").await.unwrap(), Some(stored));
    assert_eq!(store.delete_file("file-a").await.unwrap(), None);
    assert_eq!(store.file("file-a", 2_000).await.unwrap(), None);
}

async fn an_expired_file_is_not_read_or_listed_and_is_found_by_the_sweep(store: Store) {
    let mut expiring = file("file-old", None, 1_000);
    expiring.expires_at_ms = Some(5_000);
    store.insert_file(&expiring).await.unwrap();
    store
        .insert_file(&file("file-kept", None, 1_001))
        .await
        .unwrap();
    assert!(store.file("file-old", 4_999).await.unwrap().is_some());
    assert_eq!(store.file("file-old", 5_000).await.unwrap(), None);
    let listed = store.list_files(&listing(None)).await.unwrap();
    assert_eq!(ids(&listed), ["file-kept"]);
    let expired = store.expired_files(5_000, 10).await.unwrap();
    assert_eq!(ids(&expired), ["file-old"]);
    assert!(store.expired_files(4_999, 10).await.unwrap().is_empty());
}

async fn files_are_listed_per_project_by_purpose_and_page_by_page(store: Store) {
    for (n, project) in [
        Some("proj_1"),
        Some("proj_2"),
        Some("proj_1"),
        None,
        Some("proj_1"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut stored = file(&format!("file-{n}"), project, 1_000 + n as i64);
        if n == 2 {
            stored.purpose = "batch".into();
        }
        store.insert_file(&stored).await.unwrap();
    }
    let project_1 = store.list_files(&listing(Some("proj_1"))).await.unwrap();
    assert_eq!(ids(&project_1), ["file-4", "file-2", "file-0"]);
    let master = store.list_files(&listing(None)).await.unwrap();
    assert_eq!(ids(&master), ["file-3"]);

    let batch = FileListing {
        purpose: Some("batch"),
        ..listing(Some("proj_1"))
    };
    assert_eq!(ids(&store.list_files(&batch).await.unwrap()), ["file-2"]);

    // Two at a time, newest first, then oldest first.
    let first = FileListing {
        limit: 2,
        ..listing(Some("proj_1"))
    };
    assert_eq!(
        ids(&store.list_files(&first).await.unwrap()),
        ["file-4", "file-2"]
    );
    let second = FileListing {
        after: Some("file-2"),
        ..first
    };
    assert_eq!(ids(&store.list_files(&second).await.unwrap()), ["file-0"]);
    let oldest_first = FileListing {
        newest_first: false,
        after: Some("file-0"),
        ..first
    };
    assert_eq!(
        ids(&store.list_files(&oldest_first).await.unwrap()),
        ["file-2", "file-4"]
    );
}

async fn openai_parts_add_up_to_the_declared_size_and_no_further(store: Store) {
    store
        .insert_upload(&upload("upload_a", UploadProtocol::OpenAi, 10))
        .await
        .unwrap();
    let after_first = store
        .add_upload_part(&part("part_1", "upload_a", 6), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after_first.received, 6);
    assert_eq!(
        store
            .add_upload_part(&part("part_2", "upload_a", 5), None)
            .await
            .unwrap(),
        Err(PartRefused::TooLarge {
            bytes: 10,
            received: 6
        })
    );
    store
        .add_upload_part(&part("part_3", "upload_a", 4), None)
        .await
        .unwrap()
        .unwrap();
    let parts = store.upload_parts("upload_a").await.unwrap();
    assert_eq!(
        parts
            .iter()
            .map(|part| (part.id.as_str(), part.seq))
            .collect::<Vec<_>>(),
        [("part_1", 0), ("part_3", 6)]
    );
    assert_eq!(
        store
            .add_upload_part(&part("part_4", "upload_missing", 1), None)
            .await
            .unwrap(),
        Err(PartRefused::NoUpload)
    );
}

async fn a_resumable_chunk_lands_only_at_the_bytes_received(store: Store) {
    store
        .insert_upload(&upload("upload_g", UploadProtocol::Gemini, 10))
        .await
        .unwrap();
    store
        .add_upload_part(&part("part_1", "upload_g", 4), Some(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .add_upload_part(&part("part_2", "upload_g", 4), Some(0))
            .await
            .unwrap(),
        Err(PartRefused::WrongOffset { received: 4 })
    );
    let upload = store
        .add_upload_part(&part("part_3", "upload_g", 6), Some(4))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(upload.received, 10);
    let seqs: Vec<u64> = store
        .upload_parts("upload_g")
        .await
        .unwrap()
        .iter()
        .map(|part| part.seq)
        .collect();
    assert_eq!(seqs, [0, 4]);
}

async fn an_upload_is_completed_once_and_then_takes_no_parts(store: Store) {
    store
        .insert_upload(&upload("upload_c", UploadProtocol::OpenAi, 10))
        .await
        .unwrap();
    let claimed = store
        .set_upload_state(
            "upload_c",
            &[UploadState::Pending],
            UploadState::Completing,
            None,
        )
        .await
        .unwrap();
    assert_eq!(claimed.unwrap().state, UploadState::Completing);
    // A second completion finds it claimed.
    assert_eq!(
        store
            .set_upload_state(
                "upload_c",
                &[UploadState::Pending],
                UploadState::Completing,
                None
            )
            .await
            .unwrap(),
        None
    );
    let done = store
        .set_upload_state(
            "upload_c",
            &[UploadState::Completing],
            UploadState::Completed,
            Some("file-c"),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (done.state, done.file_id.as_deref()),
        (UploadState::Completed, Some("file-c"))
    );
    assert_eq!(
        store
            .add_upload_part(&part("part_1", "upload_c", 1), None)
            .await
            .unwrap(),
        Err(PartRefused::NotPending(UploadState::Completed))
    );
}

async fn uploads_past_their_time_are_found_and_their_parts_forgotten(store: Store) {
    store
        .insert_upload(&upload("upload_e", UploadProtocol::Gemini, 10))
        .await
        .unwrap();
    store
        .add_upload_part(&part("part_1", "upload_e", 3), Some(0))
        .await
        .unwrap()
        .unwrap();
    assert!(store.expired_uploads(4_999, 10).await.unwrap().is_empty());
    let expired = store.expired_uploads(5_000, 10).await.unwrap();
    assert_eq!(expired.len(), 1);
    store.delete_upload_parts("upload_e").await.unwrap();
    assert!(store.upload_parts("upload_e").await.unwrap().is_empty());
}

on_both_stores!(
    a_file_is_stored_read_back_and_deleted_once,
    an_expired_file_is_not_read_or_listed_and_is_found_by_the_sweep,
    files_are_listed_per_project_by_purpose_and_page_by_page,
    openai_parts_add_up_to_the_declared_size_and_no_further,
    a_resumable_chunk_lands_only_at_the_bytes_received,
    an_upload_is_completed_once_and_then_takes_no_parts,
    uploads_past_their_time_are_found_and_their_parts_forgotten,
);
