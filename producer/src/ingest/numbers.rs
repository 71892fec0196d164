//! The numbers accepted so far, for duplicate detection ([`Numbers`]): the one thing a run
//! keeps per row, so the one that decides its memory on a large file.
//!
//! A `HashSet<u64>` holds 1,000,000 numbers in 2^21 slots of 9 bytes (19 MB), and while it
//! grows to them its old table of 9 MB lives beside the new one: 28 MB at once, most of the
//! console's and half of `wacast enqueue`'s memory budget. Here the numbers are kept sorted in
//! one `Vec<u64>` (8 bytes each), with the latest in a small hash set that is merged into it
//! when full: 1,000,000 numbers take 8 MB, 13 MB while the vector last grows.

use std::collections::HashSet;

/// The hash set of the latest numbers never holds fewer than this before it is merged: with
/// fewer, the merges (each moves every sorted number) would cost more than the lookups.
const MIN_RECENT: usize = 16 * 1024;

/// The latest numbers are merged once they are this fraction of the sorted ones, so that a
/// number is moved a bounded number of times (about this many) however large the file.
const RECENT_SHARE: usize = 16;

/// A set of numbers that only grows: [`Numbers::insert`] tells whether a number is new.
#[derive(Debug)]
pub(crate) struct Numbers {
    /// Every number but the latest, ascending.
    sorted: Vec<u64>,
    /// The latest numbers, none of them in `sorted`.
    recent: HashSet<u64>,
}

impl Default for Numbers {
    fn default() -> Self {
        Numbers {
            sorted: Vec::new(),
            recent: HashSet::with_capacity(MIN_RECENT),
        }
    }
}

impl Numbers {
    /// Adds `number`; false if it was there already.
    pub(crate) fn insert(&mut self, number: u64) -> bool {
        if self.sorted.binary_search(&number).is_ok() || !self.recent.insert(number) {
            return false;
        }
        if self.recent.len() >= MIN_RECENT.max(self.sorted.len() / RECENT_SHARE) {
            self.merge();
        }
        true
    }

    /// Moves the latest numbers into the sorted ones, merging from the back into the sorted
    /// vector's new end, so that no third buffer is needed.
    fn merge(&mut self) {
        let mut recent: Vec<u64> = self.recent.drain().collect();
        recent.sort_unstable();
        let old = self.sorted.len();
        self.sorted.resize(old + recent.len(), 0);
        let (mut i, mut j) = (old, recent.len());
        for k in (0..self.sorted.len()).rev() {
            // Every slot above `k` is placed; the rest of `sorted` is below `i` still.
            if j == 0 {
                break;
            }
            if i > 0 && self.sorted[i - 1] > recent[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = recent[j - 1];
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_new_numbers_from_repeated_ones_across_merges() {
        let mut numbers = Numbers::default();
        let mut reference = HashSet::new();
        // A multiplicative sequence modulo a prime: scattered, and repeating after a while so
        // that numbers come back both while recent and once merged.
        let mut x: u64 = 1;
        for _ in 0..200_000 {
            x = x * 48_271 % 65_521;
            let number = 49_151_000_000_000 + x * 7;
            assert_eq!(numbers.insert(number), reference.insert(number), "{number}");
        }
        assert!(numbers.sorted.len() > MIN_RECENT, "merged at least once");
        assert!(numbers.sorted.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(numbers.sorted.len() + numbers.recent.len(), reference.len());
    }
}
