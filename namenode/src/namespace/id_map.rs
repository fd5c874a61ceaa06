//! IdMap: inodes and blocks by id, in pages of consecutive ids.
//!
//! The namespace lives in memory, so the per-entry cost is the figure that
//! matters (issue 7: ≤ 100 bytes per file or block). Inode and block ids are
//! handed out in sequence and never reused, so a page of [`PAGE_SLOTS`]
//! consecutive ids is nearly always full: an entry costs its own size and
//! nothing more (a hash map spends half its table on empty buckets and
//! rehashes into a fresh one as it grows). A page whose entries have all
//! gone is freed, so deleting old files gives the memory back.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// log2 of the ids per page: small enough that a stray id costs little.
const PAGE_BITS: u32 = 6;
const PAGE_SLOTS: usize = 1 << PAGE_BITS;
const SLOT_MASK: u64 = (PAGE_SLOTS as u64) - 1;

#[derive(Debug, Clone)]
struct Page<V> {
    live: u32,
    slots: [Option<V>; PAGE_SLOTS],
}

impl<V> Page<V> {
    fn new() -> Box<Self> {
        Box::new(Self {
            live: 0,
            slots: std::array::from_fn(|_| None),
        })
    }
}

/// Fibonacci hashing of a page number: page numbers are small consecutive
/// integers, which SipHash would spend a hundred cycles on.
#[derive(Debug, Default, Clone, Copy)]
pub struct PageHasher(u64);

impl Hasher for PageHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map from u64 ids to `V`, dense for ids handed out in sequence.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    pages: HashMap<u64, Box<Page<V>>, BuildHasherDefault<PageHasher>>,
    len: usize,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        Self {
            pages: HashMap::default(),
            len: 0,
        }
    }
}

fn split(id: u64) -> (u64, usize) {
    (id >> PAGE_BITS, (id & SLOT_MASK) as usize)
}

impl<V> IdMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, id: u64) -> Option<&V> {
        let (page, slot) = split(id);
        self.pages.get(&page)?.slots.get(slot)?.as_ref()
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        let (page, slot) = split(id);
        self.pages.get_mut(&page)?.slots.get_mut(slot)?.as_mut()
    }

    pub fn contains_key(&self, id: u64) -> bool {
        self.get(id).is_some()
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, id: u64, value: V) -> Option<V> {
        let (page, slot) = split(id);
        let page = self.pages.entry(page).or_insert_with(Page::new);
        let old = page.slots.get_mut(slot)?.replace(value);
        if old.is_none() {
            page.live += 1;
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, id: u64) -> Option<V> {
        let (page_no, slot) = split(id);
        let page = self.pages.get_mut(&page_no)?;
        let old = page.slots.get_mut(slot)?.take()?;
        page.live = page.live.saturating_sub(1);
        self.len = self.len.saturating_sub(1);
        if page.live == 0 {
            self.pages.remove(&page_no);
        }
        Some(old)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.pages.iter().flat_map(|(&page, p)| {
            p.slots.iter().enumerate().filter_map(move |(slot, v)| {
                v.as_ref().map(|v| ((page << PAGE_BITS) | slot as u64, v))
            })
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(id, _)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fill_and_free() {
        let mut map = IdMap::default();
        for id in 1000..1200u64 {
            assert!(map.insert(id, id * 2).is_none());
        }
        assert_eq!(map.len(), 200);
        assert_eq!(map.get(1100), Some(&2200));
        assert_eq!(map.insert(1100, 7), Some(2200));
        assert_eq!(map.len(), 200);
        assert!(map.get(999).is_none());
        assert!(map.get(u64::MAX).is_none());
        let mut keys: Vec<u64> = map.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, (1000..1200).collect::<Vec<_>>());
        for id in 1000..1200u64 {
            assert!(map.remove(id).is_some());
        }
        assert!(map.remove(1000).is_none());
        assert!(map.is_empty());
        assert!(map.pages.is_empty(), "empty pages are freed");
        map.insert(u64::MAX, 1);
        assert_eq!(map.get(u64::MAX), Some(&1));
    }
}
