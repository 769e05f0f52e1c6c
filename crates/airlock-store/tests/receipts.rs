//! The receipts log's storage on SQLite and PostgreSQL: receipts appended
//! with their records (a replayed batch adds none), the tiles rebuilding
//! the tree's root and proofs, entries and checkpoints read back.

use airlock_receipts::tiles::{NeededTiles, TileSet};
use airlock_receipts::{
    Hash, ReceiptEntry, SubtreeHashes, inclusion_proof, leaf_hash, node_hash, verify_inclusion,
};
use airlock_store::{ReceiptClaims, RequestRecord, Store, StoredCheckpoint};

fn record(n: usize, with_receipt: bool) -> RequestRecord {
    RequestRecord {
        id: format!("req-{n:05}"),
        started_at_ms: 1_765_000_000_000 + n as i64,
        surface: "openai".into(),
        operation: "chat.completions".into(),
        model: Some("gpt-4o-mini".into()),
        status: 200,
        outcome: "ok".into(),
        project_id: Some(format!("project-{}", n % 3)),
        receipt: with_receipt.then(|| ReceiptClaims {
            receipt_id: format!("rcpt_{n:05}"),
            request_sha256: Some(format!("{n:064x}")),
            ..ReceiptClaims::default()
        }),
        ..RequestRecord::default()
    }
}

/// The RFC 6962 root of `leaves`, computed naively.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        1 => leaves[0],
        n => {
            let split = n.next_power_of_two() / 2;
            node_hash(&naive_root(&leaves[..split]), &naive_root(&leaves[split..]))
        }
    }
}

/// The tiles `compute` reads, fetched from the store, and its value.
async fn through_tiles<T>(
    store: &Store,
    compute: impl Fn(&mut dyn FnMut(u32, u64) -> Hash) -> T,
) -> T {
    let mut needed = NeededTiles::new();
    compute(&mut |height, index| needed.subtree(height, index));
    let mut tiles = TileSet::new();
    for (id, hashes) in store.receipt_tiles(&needed.tiles()).await.unwrap() {
        tiles.insert(id, hashes);
    }
    let value = compute(&mut |height, index| tiles.subtree(height, index));
    assert_eq!(tiles.missing(), None);
    value
}

/// A `SubtreeHashes` over a closure.
struct Hashes<'a>(&'a mut dyn FnMut(u32, u64) -> Hash);

impl SubtreeHashes for Hashes<'_> {
    fn subtree(&mut self, height: u32, index: u64) -> Hash {
        (self.0)(height, index)
    }
}

async fn receipts_are_appended_with_their_records_once(store: Store) {
    // 700 records in uneven batches, a few without receipts, one batch
    // replayed whole: the tree spans three leaf tiles and a level-1 tile.
    let records: Vec<_> = (0..700).map(|n| record(n, n % 50 != 7)).collect();
    for batch in [&records[..1], &records[1..255], &records[255..600]] {
        store.insert_request_records(batch).await.unwrap();
    }
    store
        .insert_request_records(&records[255..600])
        .await
        .unwrap();
    store.insert_request_records(&records[600..]).await.unwrap();
    let with_receipts: Vec<&RequestRecord> =
        records.iter().filter(|r| r.receipt.is_some()).collect();
    let size = store.receipt_log_size().await.unwrap();
    assert_eq!(size, with_receipts.len() as u64);

    // The stored entries, in order, are the records' receipts.
    let entries = store.receipt_entries(0, size).await.unwrap();
    assert_eq!(entries.len() as u64, size);
    for (entry, record) in entries.iter().zip(&with_receipts) {
        let parsed: ReceiptEntry = serde_json::from_slice(entry).unwrap();
        let claims = record.receipt.as_ref().unwrap();
        assert_eq!(parsed.receipt, claims.receipt_id);
        assert_eq!(parsed.request, record.id);
        assert_eq!(parsed.request_sha256, claims.request_sha256);
        assert_eq!(parsed.project, record.project_id);
        assert_eq!(
            entry,
            &airlock_store::receipt_entry(record, claims).to_bytes(),
            "the entry's bytes are the receipt as made"
        );
    }

    // The tiles rebuild the tree of the entries, and prove each leaf.
    let leaves: Vec<Hash> = entries.iter().map(|entry| leaf_hash(entry)).collect();
    let root = through_tiles(&store, |read| {
        airlock_receipts::root(size, &mut Hashes(read))
    })
    .await;
    assert_eq!(root, naive_root(&leaves));
    for leaf in [0, 1, 255, 256, 511, 600, size - 1] {
        let proof = through_tiles(&store, |read| {
            inclusion_proof(leaf, size, &mut Hashes(read)).unwrap()
        })
        .await;
        verify_inclusion(&leaves[leaf as usize], leaf, size, &proof, &root).unwrap();
    }

    let stored = store.receipt("rcpt_00300").await.unwrap().unwrap();
    assert_eq!(stored.project_id.as_deref(), Some("project-0"));
    // Its leaf's tile comes with it: the hashes of leaves 256 to 511.
    assert_eq!(stored.leaf_index / 256, 1);
    assert_eq!(stored.leaf_tile, leaves[256..512.min(size as usize)]);
    assert_eq!(
        serde_json::from_slice::<ReceiptEntry>(&stored.entry)
            .unwrap()
            .request,
        "req-00300"
    );
    assert_eq!(
        store.receipt("rcpt_00007").await.unwrap(),
        None,
        "no claims, no receipt"
    );
}

async fn checkpoints_are_kept_once_per_size(store: Store) {
    assert_eq!(store.latest_receipt_checkpoint().await.unwrap(), None);
    let checkpoint = |size: u64, note: &str| StoredCheckpoint {
        size,
        root: Hash([size as u8; 32]),
        note: note.to_string(),
        signed_at_ms: 1000 + size as i64,
    };
    store
        .insert_receipt_checkpoint(&checkpoint(5, "five"))
        .await
        .unwrap();
    store
        .insert_receipt_checkpoint(&checkpoint(9, "nine"))
        .await
        .unwrap();
    // Signed again for a size already kept (another instance): the first stays.
    store
        .insert_receipt_checkpoint(&checkpoint(9, "again"))
        .await
        .unwrap();
    assert_eq!(
        store.latest_receipt_checkpoint().await.unwrap(),
        Some(checkpoint(9, "nine"))
    );
    assert_eq!(
        store.receipt_checkpoint_at(5).await.unwrap(),
        Some(checkpoint(5, "five"))
    );
    assert_eq!(store.receipt_checkpoint_at(6).await.unwrap(), None);
}

airlock_store::on_both_stores!(
    receipts_are_appended_with_their_records_once,
    checkpoints_are_kept_once_per_size,
);
