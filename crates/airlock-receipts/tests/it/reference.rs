//! A naive RFC 6962 §2.1 reference over a list of leaf hashes: MTH, PATH
//! and PROOF written straight from the RFC's recursive definitions, with
//! MTH of each range memoized so that sweeping many tree sizes stays fast.

use std::collections::HashMap;

use airlock_receipts::{Hash, empty_root, node_hash};

pub struct Reference {
    leaves: Vec<Hash>,
    memo: HashMap<(usize, usize), Hash>,
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

impl Reference {
    pub fn new(leaves: Vec<Hash>) -> Self {
        Reference {
            leaves,
            memo: HashMap::new(),
        }
    }

    /// MTH(D[lo:hi]).
    pub fn mth(&mut self, lo: usize, hi: usize) -> Hash {
        match hi - lo {
            0 => empty_root(),
            1 => self.leaves[lo],
            n => {
                if let Some(hash) = self.memo.get(&(lo, hi)) {
                    return *hash;
                }
                let k = split(n);
                let left = self.mth(lo, lo + k);
                let right = self.mth(lo + k, hi);
                let hash = node_hash(&left, &right);
                self.memo.insert((lo, hi), hash);
                hash
            }
        }
    }

    /// PATH(m, D[n]).
    pub fn path(&mut self, m: usize, n: usize) -> Vec<Hash> {
        self.path_in(m, 0, n)
    }

    fn path_in(&mut self, m: usize, lo: usize, hi: usize) -> Vec<Hash> {
        let n = hi - lo;
        if n == 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut path = self.path_in(m, lo, lo + k);
            path.push(self.mth(lo + k, hi));
            path
        } else {
            let mut path = self.path_in(m - k, lo + k, hi);
            path.push(self.mth(lo, lo + k));
            path
        }
    }

    /// PROOF(m, D[n]) for 0 < m < n.
    pub fn proof(&mut self, m: usize, n: usize) -> Vec<Hash> {
        self.subproof(m, 0, n, true)
    }

    fn subproof(&mut self, m: usize, lo: usize, hi: usize, whole: bool) -> Vec<Hash> {
        let n = hi - lo;
        if m == n {
            return if whole {
                vec![]
            } else {
                vec![self.mth(lo, hi)]
            };
        }
        let k = split(n);
        if m <= k {
            let mut proof = self.subproof(m, lo, lo + k, whole);
            proof.push(self.mth(lo + k, hi));
            proof
        } else {
            let mut proof = self.subproof(m - k, lo + k, hi, false);
            proof.push(self.mth(lo, lo + k));
            proof
        }
    }
}
