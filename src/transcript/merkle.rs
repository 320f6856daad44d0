//! The RFC 6962 Merkle tree hash over the transcript's lines, computed as
//! the lines stream past: memory grows with log2 of the line count.
//!
//! leaf = SHA-256(0x00 || line bytes), node = SHA-256(0x01 || left || right);
//! the tree of n leaves splits at the largest power of two below n (RFC 6962
//! section 2.1), so the same lines give the same root in any implementation.

use sha2::{Digest, Sha256};

/// Hash of one leaf: the exact line bytes, without the newline.
pub fn leaf_hash(line: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(line);
    hasher.finalize().into()
}

/// Hash of an inner node.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// A Merkle tree that only ever grows at the right. It keeps the roots of
/// its complete subtrees (one per set bit of the size), largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerkleTree {
    size: u64,
    /// (height, root) of each complete subtree, heights strictly decreasing.
    subtrees: Vec<(u32, [u8; 32])>,
}

impl MerkleTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one line as a leaf.
    pub fn push_line(&mut self, line: &[u8]) {
        self.push_leaf_hash(leaf_hash(line));
    }

    pub fn push_leaf_hash(&mut self, leaf: [u8; 32]) {
        let mut carry = (0u32, leaf);
        // Two complete subtrees of the same height merge, as in binary addition.
        while let Some(&(height, left)) = self.subtrees.last() {
            if height != carry.0 {
                break;
            }
            self.subtrees.pop();
            carry = (height + 1, node_hash(&left, &carry.1));
        }
        self.subtrees.push(carry);
        self.size += 1;
    }

    /// The tree head: for RFC 6962 the right-most (smallest) subtrees fold
    /// first. The empty tree's root is SHA-256 of nothing.
    pub fn root(&self) -> [u8; 32] {
        let mut subtrees = self.subtrees.iter().rev();
        let Some(&(_, mut root)) = subtrees.next() else {
            return Sha256::digest([]).into();
        };
        for (_, left) in subtrees {
            root = node_hash(left, &root);
        }
        root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 section 2.1, written as the recursive definition.
    fn reference(leaves: &[&[u8]]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest([]).into(),
            1 => leaf_hash(leaves[0]),
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&reference(&leaves[..k]), &reference(&leaves[k..]))
            }
        }
    }

    #[test]
    fn streaming_root_equals_the_recursive_definition_for_every_size() {
        let lines: Vec<Vec<u8>> = (0..70u32)
            .map(|i| format!("line {i}").into_bytes())
            .collect();
        let mut tree = MerkleTree::new();
        assert_eq!(tree.root(), reference(&[]));
        for n in 1..=lines.len() {
            tree.push_line(&lines[n - 1]);
            let slices: Vec<&[u8]> = lines[..n].iter().map(Vec::as_slice).collect();
            assert_eq!(tree.root(), reference(&slices), "size {n}");
            assert_eq!(tree.size(), n as u64);
        }
    }

    #[test]
    fn known_answer_from_the_certificate_transparency_test_vectors() {
        // The empty leaf, and the first two leaves of the CT test vectors
        // (merkle_test.go in the Go tlog/CT code): leaf "" and leaf 0x00.
        assert_eq!(
            hex::encode(leaf_hash(b"")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let mut tree = MerkleTree::new();
        tree.push_line(b"");
        tree.push_line(&[0x00]);
        assert_eq!(
            hex::encode(tree.root()),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
    }
}
