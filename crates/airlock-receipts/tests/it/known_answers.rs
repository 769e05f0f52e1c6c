//! Published RFC 6962 test vectors: the certificate-transparency leaves,
//! roots, inclusion and consistency proofs, as carried by
//! github.com/transparency-dev/merkle in `testonly/constants.go`
//! (`LeafInputs`, `NodeHashes`, `RootHashes`) and `proof/verify_test.go`
//! (`inclusionProofs`, `consistencyProofs`, whose leaf numbers there are
//! 1-based; here they are 0-based indexes).

use airlock_receipts::{
    Hash, ProofError, consistency_proof, empty_root, inclusion_proof, leaf_hash, root,
    verify_consistency, verify_inclusion,
};

use crate::support::TiledLog;

const LEAF_INPUTS: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// Roots of the trees of 0 to 8 of the leaves.
const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, PATH).
const INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, PROOF).
const CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn hash(hex_text: &str) -> Hash {
    Hash::from_slice(&hex::decode(hex_text).expect("hex")).expect("32 bytes")
}

fn hashes(hex_texts: &[&str]) -> Vec<Hash> {
    hex_texts.iter().map(|text| hash(text)).collect()
}

/// The 8 vector leaves appended one at a time; each size's log kept.
fn logs() -> Vec<TiledLog> {
    let mut logs = vec![TiledLog::default()];
    for input in LEAF_INPUTS {
        let mut log = TiledLog {
            size: logs[logs.len() - 1].size,
            tiles: logs[logs.len() - 1].tiles.clone(),
        };
        log.append(&[leaf_hash(input)]);
        logs.push(log);
    }
    logs
}

#[test]
fn leaf_hashes_and_roots_match_the_vectors() {
    for (input, expected) in LEAF_INPUTS.iter().zip(LEAF_HASHES) {
        assert_eq!(leaf_hash(input), hash(expected));
    }
    assert_eq!(empty_root(), hash(ROOTS[0]));
    for (size, log) in logs().iter().enumerate() {
        assert_eq!(log.size, size as u64);
        let mut tiles = log.tile_set();
        assert_eq!(root(log.size, &mut tiles), hash(ROOTS[size]), "size {size}");
        assert_eq!(tiles.missing(), None);
    }
}

#[test]
fn inclusion_proofs_match_the_vectors_and_verify() {
    let logs = logs();
    for (leaf, size, expected) in INCLUSION_PROOFS {
        let log = &logs[size as usize];
        let proof = inclusion_proof(leaf, size, &mut log.tile_set()).expect("leaf in tree");
        assert_eq!(proof, hashes(expected), "leaf {leaf} of {size}");
        let leaf_hash = leaf_hash(LEAF_INPUTS[leaf as usize]);
        let root = hash(ROOTS[size as usize]);
        assert_eq!(
            verify_inclusion(&leaf_hash, leaf, size, &proof, &root),
            Ok(())
        );
        for (leaf, size, proof, root, what) in corrupted_inclusions(leaf, size, &proof, root) {
            assert!(
                verify_inclusion(&leaf_hash, leaf, size, &proof, &root).is_err(),
                "{what} verified"
            );
        }
        let wrong_leaf = airlock_receipts::leaf_hash(b"WrongLeaf");
        assert_eq!(
            verify_inclusion(&wrong_leaf, leaf, size, &proof, &root),
            Err(ProofError::InclusionRootMismatch)
        );
    }
}

/// The probes of verify_test.go's corruptInclusionProof that apply.
fn corrupted_inclusions(
    leaf: u64,
    size: u64,
    proof: &[Hash],
    root: Hash,
) -> Vec<(u64, u64, Vec<Hash>, Hash, String)> {
    let some_hash = hash("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut probes = vec![
        (
            leaf.wrapping_sub(1),
            size,
            proof.to_vec(),
            root,
            "leaf - 1".to_owned(),
        ),
        (leaf + 1, size, proof.to_vec(), root, "leaf + 1".to_owned()),
        (leaf ^ 2, size, proof.to_vec(), root, "leaf ^ 2".to_owned()),
        (leaf, size * 2, proof.to_vec(), root, "size * 2".to_owned()),
        (leaf, size / 2, proof.to_vec(), root, "size / 2".to_owned()),
        (
            leaf,
            size,
            proof.to_vec(),
            empty_root(),
            "empty root".to_owned(),
        ),
        (
            leaf,
            size,
            proof.to_vec(),
            some_hash,
            "random root".to_owned(),
        ),
    ];
    let mut with_trailing = proof.to_vec();
    with_trailing.push(root);
    probes.push((leaf, size, with_trailing, root, "trailing root".to_owned()));
    let mut with_preceding = vec![root];
    with_preceding.extend_from_slice(proof);
    probes.push((
        leaf,
        size,
        with_preceding,
        root,
        "preceding root".to_owned(),
    ));
    for position in 0..proof.len() {
        let mut flipped = proof.to_vec();
        flipped[position].0[0] ^= 8;
        probes.push((
            leaf,
            size,
            flipped,
            root,
            format!("proof[{position}] bit 3"),
        ));
    }
    if let Some((_, shorter)) = proof.split_last() {
        probes.push((
            leaf,
            size,
            shorter.to_vec(),
            root,
            "removed hash".to_owned(),
        ));
    }
    probes
}

#[test]
fn consistency_proofs_match_the_vectors_and_verify() {
    let logs = logs();
    for (old, new, expected) in CONSISTENCY_PROOFS {
        let log = &logs[new as usize];
        let proof = consistency_proof(old, new, &mut log.tile_set()).expect("old <= new");
        assert_eq!(proof, hashes(expected), "{old} to {new}");
        let (old_root, new_root) = (hash(ROOTS[old as usize]), hash(ROOTS[new as usize]));
        assert_eq!(
            verify_consistency(old, new, &old_root, &new_root, &proof),
            Ok(())
        );
        if proof.is_empty() {
            continue;
        }
        for (old, new, old_root, new_root, proof, what) in
            corrupted_consistencies(old, new, old_root, new_root, &proof)
        {
            assert!(
                verify_consistency(old, new, &old_root, &new_root, &proof).is_err(),
                "{what} verified"
            );
        }
    }
}

/// The probes of verify_test.go's corruptConsistencyProof that apply.
fn corrupted_consistencies(
    old: u64,
    new: u64,
    old_root: Hash,
    new_root: Hash,
    proof: &[Hash],
) -> Vec<(u64, u64, Hash, Hash, Vec<Hash>, String)> {
    let wrong_root = leaf_hash(b"WrongRoot");
    let mut probes = vec![
        (
            old - 1,
            new,
            old_root,
            new_root,
            proof.to_vec(),
            "old - 1".to_owned(),
        ),
        (
            old + 1,
            new,
            old_root,
            new_root,
            proof.to_vec(),
            "old + 1".to_owned(),
        ),
        (
            old ^ 2,
            new,
            old_root,
            new_root,
            proof.to_vec(),
            "old ^ 2".to_owned(),
        ),
        (
            old,
            new * 2,
            old_root,
            new_root,
            proof.to_vec(),
            "new * 2".to_owned(),
        ),
        (
            old,
            new / 2,
            old_root,
            new_root,
            proof.to_vec(),
            "new / 2".to_owned(),
        ),
        (
            old,
            new,
            wrong_root,
            new_root,
            proof.to_vec(),
            "wrong old root".to_owned(),
        ),
        (
            old,
            new,
            old_root,
            wrong_root,
            proof.to_vec(),
            "wrong new root".to_owned(),
        ),
        (
            old,
            new,
            new_root,
            old_root,
            proof.to_vec(),
            "swapped roots".to_owned(),
        ),
        (
            old,
            new,
            old_root,
            new_root,
            vec![],
            "empty proof".to_owned(),
        ),
    ];
    for extra in [old_root, new_root, proof[0]] {
        let mut trailing = proof.to_vec();
        trailing.push(extra);
        probes.push((
            old,
            new,
            old_root,
            new_root,
            trailing,
            "trailing hash".to_owned(),
        ));
        let mut preceding = vec![extra];
        preceding.extend_from_slice(proof);
        probes.push((
            old,
            new,
            old_root,
            new_root,
            preceding,
            "preceding hash".to_owned(),
        ));
    }
    probes.push((
        old,
        new,
        old_root,
        new_root,
        proof[..proof.len() - 1].to_vec(),
        "truncated".to_owned(),
    ));
    for position in 0..proof.len() {
        let mut flipped = proof.to_vec();
        flipped[position].0[0] ^= 16;
        probes.push((
            old,
            new,
            old_root,
            new_root,
            flipped,
            format!("proof[{position}] bit 4"),
        ));
    }
    probes
}
