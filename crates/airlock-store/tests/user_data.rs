//! Logged content, the inventory of user data (an end user's rows of each
//! kind found, paged, erased with the blobs they name) and retention's
//! deletes, run against SQLite and against PostgreSQL
//! (`AIRLOCK_TEST_POSTGRES_URL`; without it the PostgreSQL tests fail,
//! never skip).

use airlock_store::{
    DataOwner, MediaKind, MediaRecord, RequestContent, RequestRecord, Store, UserDataKind,
    on_both_stores,
};
use serde_json::json;

fn content(id: &str, project: &str, at_ms: i64) -> RequestContent {
    RequestContent {
        id: id.into(),
        project_id: Some(project.into()),
        end_user: Some("user-7".into()),
        created_at_ms: at_ms,
        request: format!("{{\"prompt\": \"{id}\"}}"),
        response: "{\"answer\": \"[email]\"}".into(),
        truncated: false,
    }
}

fn record(id: &str, project: &str, at_ms: i64) -> RequestRecord {
    RequestRecord {
        id: id.into(),
        started_at_ms: at_ms,
        project_id: Some(project.into()),
        status: 200,
        ..RequestRecord::default()
    }
}

async fn content_is_kept_once_and_read_back_by_id(store: Store) {
    let first = content("req_a", "proj_a", 1_000);
    store.insert_request_content(&first).await.unwrap();
    // A second write of the same id is ignored.
    let again = RequestContent {
        request: "changed".into(),
        ..first.clone()
    };
    store.insert_request_content(&again).await.unwrap();
    assert_eq!(store.request_content("req_a").await.unwrap(), Some(first));
    assert_eq!(store.request_content("req_missing").await.unwrap(), None);
}

async fn expired_rows_go_a_bounded_batch_at_a_time_and_only_the_projects(store: Store) {
    for n in 0..5 {
        store
            .insert_request_content(&content(&format!("old_{n}"), "proj_a", n))
            .await
            .unwrap();
    }
    store
        .insert_request_content(&content("new", "proj_a", 10_000))
        .await
        .unwrap();
    store
        .insert_request_content(&content("other", "proj_b", 0))
        .await
        .unwrap();
    store
        .insert_request_records(&[
            record("r_old", "proj_a", 0),
            record("r_new", "proj_a", 10_000),
        ])
        .await
        .unwrap();

    let delete = |kind, limit| {
        let store = store.clone();
        async move {
            let batch = store
                .user_data_expired(kind, "proj_a", 5_000, limit)
                .await
                .unwrap();
            store.delete_user_data(kind, &batch.ids).await.unwrap()
        }
    };
    assert_eq!(delete(UserDataKind::Content, 3).await, 3);
    assert_eq!(delete(UserDataKind::Content, 3).await, 2);
    assert_eq!(delete(UserDataKind::Content, 3).await, 0);
    assert!(store.request_content("new").await.unwrap().is_some());
    assert!(store.request_content("other").await.unwrap().is_some());
    assert_eq!(delete(UserDataKind::RequestLog, 10).await, 1);
    let left: Vec<String> = store
        .recent_request_records(10)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.id)
        .collect();
    assert_eq!(left, ["r_new"]);
    assert_eq!(delete(UserDataKind::Transcripts, 10).await, 0);
}

fn media(id: &str, user: Option<&str>, source: Option<&str>) -> MediaRecord {
    MediaRecord {
        id: id.into(),
        project_id: source.is_none().then(|| "proj_a".to_string()),
        end_user: user.map(String::from),
        kind: MediaKind::Image,
        content_type: "image/png".into(),
        sha256: "ab".repeat(32),
        source_id: source.map(String::from),
        created_at_ms: 1_000,
        ..MediaRecord::default()
    }
}

async fn an_end_users_rows_are_found_by_kind_and_erased_with_the_blobs_they_name(store: Store) {
    let mut records: Vec<RequestRecord> = (0..5)
        .map(|n| RequestRecord {
            end_user: Some("alice".into()),
            ..record(&format!("r_{n}"), "proj_a", n)
        })
        .collect();
    records.push(RequestRecord {
        end_user: Some("bob".into()),
        ..record("r_bob", "proj_a", 0)
    });
    records.push(RequestRecord {
        end_user: Some("alice".into()),
        ..record("r_other_project", "proj_b", 0)
    });
    store.insert_request_records(&records).await.unwrap();
    store
        .insert_media_records(&[
            media("m1.png", Some("alice"), None),
            media("m1.png/w256.webp", None, Some("m1.png")),
            media("m2.png", Some("bob"), None),
        ])
        .await
        .unwrap();
    let alice = DataOwner {
        project_id: "proj_a",
        end_user: Some("alice"),
    };

    // Paged by id, only alice's of proj_a; every column is there.
    let first = store
        .user_data_page(UserDataKind::RequestLog, alice, None, 3)
        .await
        .unwrap();
    let ids: Vec<&str> = first
        .rows
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r_0", "r_1", "r_2"]);
    assert_eq!(first.rows[0]["end_user"], json!("alice"));
    assert_eq!(first.rows[0]["status"], json!(200));
    assert_eq!(first.rows[0]["streamed"], json!(false));
    let rest = store
        .user_data_page(UserDataKind::RequestLog, alice, first.next.as_deref(), 3)
        .await
        .unwrap();
    assert_eq!(rest.rows.len(), 2);
    assert_eq!(rest.next, None);

    // Media: the original's blob, and its variant's with it on erasure.
    let page = store
        .user_data_page(UserDataKind::Media, alice, None, 10)
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.blobs, ["media/m1.png"]);
    let batch = store
        .user_data_batch(UserDataKind::Media, alice, 10)
        .await
        .unwrap();
    assert_eq!(batch.ids, ["m1.png"]);
    assert_eq!(batch.blobs, ["media/m1.png", "variants/m1.png/w256.webp"]);
    assert_eq!(
        store
            .delete_user_data(UserDataKind::Media, &batch.ids)
            .await
            .unwrap(),
        1
    );
    assert!(store.media("m1.png/w256.webp").await.unwrap().is_none());
    assert!(store.media("m2.png").await.unwrap().is_some());

    // Erased in batches; bob's and the other project's stay.
    loop {
        let batch = store
            .user_data_batch(UserDataKind::RequestLog, alice, 2)
            .await
            .unwrap();
        if batch.ids.is_empty() {
            break;
        }
        store
            .delete_user_data(UserDataKind::RequestLog, &batch.ids)
            .await
            .unwrap();
    }
    let mut left: Vec<String> = store
        .recent_request_records(10)
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.id)
        .collect();
    left.sort();
    assert_eq!(left, ["r_bob", "r_other_project"]);
    // A whole project's rows, whoever's.
    let project = DataOwner {
        project_id: "proj_a",
        end_user: None,
    };
    let all = store
        .user_data_page(UserDataKind::RequestLog, project, None, 10)
        .await
        .unwrap();
    assert_eq!(all.rows.len(), 1);
}

on_both_stores!(
    content_is_kept_once_and_read_back_by_id,
    expired_rows_go_a_bounded_batch_at_a_time_and_only_the_projects,
    an_end_users_rows_are_found_by_kind_and_erased_with_the_blobs_they_name,
    user_content_is_sealed_at_rest_and_resealed_under_a_new_key
);

fn sealer(key: u8, previous: &[u8]) -> std::sync::Arc<airlock_store::Sealer> {
    let previous: Vec<Vec<u8>> = previous.iter().map(|k| vec![*k; 32]).collect();
    std::sync::Arc::new(airlock_store::Sealer::new(&[key; 32], &previous).unwrap())
}

async fn user_content_is_sealed_at_rest_and_resealed_under_a_new_key(store: Store) {
    use airlock_store::SealedColumn;
    // Written before encryption was turned on: kept as it was.
    store
        .insert_request_content(&content("req_plain", "proj_a", 1))
        .await
        .unwrap();
    let under_a = store.clone().sealed(sealer(1, &[]));
    under_a
        .insert_request_content(&content("req_sealed", "proj_a", 2))
        .await
        .unwrap();
    // What the database holds: ciphertext, naming key A.
    let raw = store.request_content("req_sealed").await.unwrap_err();
    assert!(
        raw.to_string().contains("no data key is configured"),
        "{raw}"
    );
    let page = under_a
        .user_data_page(
            UserDataKind::Content,
            DataOwner {
                project_id: "proj_a",
                end_user: Some("user-7"),
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 2);
    assert!(
        page.rows
            .iter()
            .all(|row| row["request"].as_str().unwrap().starts_with("{\"prompt\""))
    );
    let read = under_a
        .request_content("req_sealed")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.request, "{\"prompt\": \"req_sealed\"}");

    // Rotation: key B, with A kept to read what it sealed.
    let rotated = store.clone().sealed(sealer(2, &[1]));
    assert_eq!(
        rotated
            .request_content("req_sealed")
            .await
            .unwrap()
            .unwrap()
            .request,
        "{\"prompt\": \"req_sealed\"}"
    );
    let mut resealed = 0;
    for column in SealedColumn::ALL {
        loop {
            let done = rotated.reseal_batch(column, 1).await.unwrap();
            resealed += done;
            if done == 0 {
                break;
            }
        }
    }
    // Both rows' request and response: the plain row's too.
    assert_eq!(resealed, 4);
    let only_b = store.clone().sealed(sealer(2, &[]));
    for id in ["req_plain", "req_sealed"] {
        let read = only_b.request_content(id).await.unwrap().unwrap();
        assert_eq!(read.request, format!("{{\"prompt\": \"{id}\"}}"));
    }
    let only_a = store.clone().sealed(sealer(1, &[]));
    let refused = only_a.request_content("req_plain").await.unwrap_err();
    assert!(refused.to_string().contains("not configured"), "{refused}");
    // What no configured key opens is still erased: a batch reads ids only.
    let owner = DataOwner {
        project_id: "proj_a",
        end_user: Some("user-7"),
    };
    let batch = only_a
        .user_data_batch(UserDataKind::Content, owner, 10)
        .await
        .unwrap();
    assert_eq!(batch.ids.len(), 2);
    let erased = only_a
        .delete_user_data(UserDataKind::Content, &batch.ids)
        .await
        .unwrap();
    assert_eq!(erased, 2);
}
