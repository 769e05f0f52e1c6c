//! Cross-checks with independent implementations from crates.io:
//! `signed_note` (C2SP signed-note) checks our keys and signatures and
//! signs with our key texts; `tlog_tiles` (a port of Go's sumdb/tlog)
//! verifies our proofs, authenticates our tiles against our roots, and
//! agrees on tile paths, the tiles an append writes, and checkpoints.

use std::collections::HashMap;

use airlock_receipts::{
    Checkpoint, Hash, SignerKey, TileId, TilePath, VerifierKey, consistency_proof, inclusion_proof,
    open_checkpoint, root, sign_note,
};
use tlog_tiles::{TileHashReader, TileReader};

use crate::reference::Reference;
use crate::support::{Rng, TiledLog, leaves};

#[test]
fn signed_note_verifies_our_signed_checkpoint() {
    let (signer_text, verifier_text) = SignerKey::generate("example.com/receipts").expect("a key");
    let signer = SignerKey::parse(&signer_text).expect("signer");
    let checkpoint = Checkpoint {
        origin: "example.com/receipts".to_owned(),
        size: 1234,
        root: airlock_receipts::leaf_hash(b"root"),
        extensions: vec![],
    };
    let note = sign_note(&checkpoint.to_text(), &[&signer]).expect("signed");

    let verifier =
        signed_note::StandardVerifier::new(&verifier_text).expect("our verifier key text");
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).expect("our note");
    let (verified, unverified) = parsed
        .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .expect("our signature");
    assert_eq!(verified.len(), 1);
    assert!(unverified.is_empty());
    assert_eq!(verified[0].name(), "example.com/receipts");
    assert_eq!(verified[0].id(), signer.verifier().key_hash());
    assert_eq!(parsed.text(), checkpoint.to_text().as_bytes());
    assert_eq!(parsed.to_bytes(), note.as_bytes());
}

#[test]
fn we_open_a_checkpoint_signed_note_signed_with_our_key_text() {
    let (signer_text, verifier_text) = SignerKey::generate("example.com/receipts").expect("a key");
    let signer = signed_note::StandardSigner::new(&signer_text).expect("our signer key text");
    let checkpoint = Checkpoint {
        origin: "example.com/receipts".to_owned(),
        size: 5,
        root: airlock_receipts::leaf_hash(b"root"),
        extensions: vec!["ext".to_owned()],
    };
    let mut note = signed_note::Note::new(checkpoint.to_text().as_bytes(), &[]).expect("text");
    note.add_sigs(&[&signer]).expect("signs");
    let note = String::from_utf8(note.to_bytes()).expect("UTF-8");
    let verifier = VerifierKey::parse(&verifier_text).expect("verifier");
    assert_eq!(open_checkpoint(&note, &verifier), Ok(checkpoint));
    // Ed25519 is deterministic: both sign alike with the same key.
    let ours = SignerKey::parse(&signer_text).expect("signer");
    assert_eq!(
        sign_note(&checkpoint_text(), &[&ours]).ok(),
        sign_with_signed_note(&signer_text)
    );
}

fn checkpoint_text() -> String {
    "example.com/receipts\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n".to_owned()
}

fn sign_with_signed_note(signer_text: &str) -> Option<String> {
    let signer = signed_note::StandardSigner::new(signer_text).ok()?;
    let mut note = signed_note::Note::new(checkpoint_text().as_bytes(), &[]).ok()?;
    note.add_sigs(&[&signer]).ok()?;
    String::from_utf8(note.to_bytes()).ok()
}

fn theirs(hash: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(hash.0)
}

fn all_theirs(hashes: &[Hash]) -> Vec<tlog_tiles::Hash> {
    hashes.iter().map(theirs).collect()
}

#[test]
fn tlog_tiles_verifies_our_proofs() {
    let mut rng = Rng::new(5);
    let leaves = leaves(600);
    let mut reference = Reference::new(leaves.clone());
    let mut log = TiledLog::default();
    log.append(&leaves);
    let mut tiles = log.tile_set();
    for size in 1..=600u64 {
        let tree_root = theirs(&reference.mth(0, size as usize));
        let leaf = rng.between(0, size - 1);
        let proof = inclusion_proof(leaf, size, &mut tiles).expect("leaf in tree");
        let leaf_hash = theirs(&leaves[leaf as usize]);
        tlog_tiles::check_record(&all_theirs(&proof), size, tree_root, leaf, leaf_hash)
            .unwrap_or_else(|error| panic!("leaf {leaf} of {size}: {error}"));

        let old = rng.between(1, size);
        let proof = consistency_proof(old, size, &mut tiles).expect("old <= new");
        let old_root = theirs(&reference.mth(0, old as usize));
        tlog_tiles::check_tree(&all_theirs(&proof), size, tree_root, old, old_root)
            .unwrap_or_else(|error| panic!("{old} to {size}: {error}"));
    }
}

/// Our stored tiles, served to `tlog_tiles` as a tile server would.
struct OurTiles<'a>(&'a HashMap<TileId, Vec<Hash>>);

impl TileReader for OurTiles<'_> {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|tile| {
                let id = TileId {
                    level: u32::from(tile.level()),
                    index: tile.level_index(),
                };
                let hashes = self.0.get(&id).ok_or(tlog_tiles::Error::InvalidTile)?;
                let hashes = hashes
                    .get(..tile.width() as usize)
                    .ok_or(tlog_tiles::Error::InvalidTile)?;
                Ok(hashes.iter().flat_map(|hash| hash.0).collect())
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[tlog_tiles::Tile], _data: &[Vec<u8>]) {}
}

#[test]
fn tlog_tiles_authenticates_our_tiles_and_proves_alike() {
    let mut rng = Rng::new(6);
    let leaves = leaves(70_000);
    let mut log = TiledLog::default();
    while log.size < 70_000 {
        let batch = rng.between(1, 9000).min(70_000 - log.size) as usize;
        let old_size = log.size;
        let start = old_size as usize;
        let written = log.append(&leaves[start..start + batch]);
        // The same tiles as Go's NewTiles would publish, with their widths.
        let mut ours: Vec<(u32, u64, u64)> = written
            .iter()
            .map(|(id, hashes)| (id.level, id.index, hashes.len() as u64))
            .collect();
        let mut expected: Vec<(u32, u64, u64)> = tlog_tiles::Tile::new_tiles(8, old_size, log.size)
            .iter()
            .map(|tile| {
                (
                    u32::from(tile.level()),
                    tile.level_index(),
                    u64::from(tile.width()),
                )
            })
            .collect();
        ours.sort();
        expected.sort();
        assert_eq!(ours, expected, "{old_size} to {}", log.size);

        let size = log.size;
        let our_root = root(size, &mut log.tile_set());
        let server = OurTiles(&log.tiles);
        let reader = TileHashReader::new(size, theirs(&our_root), &server);
        assert_eq!(
            tlog_tiles::tree_hash(size, &reader)
                .expect("tiles authenticate against our root")
                .0,
            our_root.0
        );
        let leaf = rng.between(0, size - 1);
        let proof = tlog_tiles::prove_record(size, leaf, &reader).expect("their proof");
        let mut tiles = log.tile_set();
        assert_eq!(
            all_theirs(&inclusion_proof(leaf, size, &mut tiles).expect("ours")),
            proof
        );
        let old = rng.between(1, size);
        let proof = tlog_tiles::prove_tree(size, old, &reader).expect("their proof");
        assert_eq!(
            all_theirs(&consistency_proof(old, size, &mut tiles).expect("ours")),
            proof
        );
    }
}

#[test]
fn tile_paths_match_tlog_tiles() {
    let mut rng = Rng::new(7);
    let mut indexes = vec![0, 1, 999, 1000, 1_234_067, u64::MAX >> 8];
    indexes.extend((0..50).map(|_| rng.next() >> rng.between(8, 60)));
    for index in indexes {
        for width in [1u16, 17, 255, 256] {
            let ours_width = (width < 256).then_some(width);
            for level in [0u8, 1, 7, 63] {
                let ours = TilePath::Hashes {
                    level: u32::from(level),
                    index,
                    width: ours_width,
                }
                .to_path();
                let go = tlog_tiles::Tile::new(8, level, index, u32::from(width), false).path();
                // Go's paths name the tile height, which C2SP's leave out.
                let go_without_height = go.replacen("tile/8/", "tile/", 1);
                assert_eq!(ours, go_without_height);
                assert_eq!(
                    tlog_tiles::Tile::from_path(&go)
                        .map(|tile| tile.level_index())
                        .ok(),
                    Some(index)
                );
                assert!(TilePath::parse(&ours).is_ok());
            }
            let ours = TilePath::Entries {
                index,
                width: ours_width,
            }
            .to_path();
            let go = tlog_tiles::Tile::new(8, 0, index, u32::from(width), true).path();
            assert_eq!(ours, go.replacen("tile/8/data/", "tile/entries/", 1));
        }
    }
}

#[test]
fn tlog_tiles_reads_our_checkpoints() {
    let checkpoint = Checkpoint {
        origin: "example.com/receipts".to_owned(),
        size: 20_852_163,
        root: airlock_receipts::leaf_hash(b"root"),
        extensions: vec!["one".to_owned(), "two".to_owned()],
    };
    let parsed = tlog_tiles::Checkpoint::from_bytes(checkpoint.to_text().as_bytes())
        .expect("our checkpoint");
    assert_eq!(parsed.origin(), checkpoint.origin);
    assert_eq!(parsed.size(), checkpoint.size);
    assert_eq!(parsed.hash().0, checkpoint.root.0);
    assert_eq!(parsed.extension(), "one\ntwo\n");
    assert_eq!(
        Checkpoint::parse(&String::from_utf8(parsed.to_bytes()).expect("UTF-8")),
        Ok(checkpoint)
    );
}
