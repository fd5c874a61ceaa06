//! IdMap: inodes and blocks by id, in pages of consecutive ids; IdSet: a
//! set of such ids as bitmaps.
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

/// A set of u64 ids as bitmaps of [`PAGE_SLOTS`] consecutive ids: a
/// datanode's replicas (HDFS threads them through the block records'
/// triplets for the same reason). Block ids are handed out in sequence, so
/// a node's replicas cluster into few pages: at a million replicas it costs
/// about a bit each where a `HashSet<u64>` costs 16–19 bytes.
#[derive(Debug, Clone, Default)]
pub struct IdSet {
    pages: HashMap<u64, u64, BuildHasherDefault<PageHasher>>,
    len: usize,
}

impl IdSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, id: &u64) -> bool {
        let (page, slot) = split(*id);
        self.pages
            .get(&page)
            .is_some_and(|bits| bits & (1 << slot) != 0)
    }

    /// True if `id` was not in the set.
    pub fn insert(&mut self, id: u64) -> bool {
        let (page, slot) = split(id);
        let bits = self.pages.entry(page).or_insert(0);
        let added = *bits & (1 << slot) == 0;
        *bits |= 1 << slot;
        self.len += usize::from(added);
        added
    }

    /// True if `id` was in the set.
    pub fn remove(&mut self, id: &u64) -> bool {
        let (page, slot) = split(*id);
        let Some(bits) = self.pages.get_mut(&page) else {
            return false;
        };
        let present = *bits & (1 << slot) != 0;
        *bits &= !(1 << slot);
        if *bits == 0 {
            self.pages.remove(&page);
        }
        self.len -= usize::from(present);
        present
    }

    pub fn clear(&mut self) {
        self.pages = HashMap::default();
        self.len = 0;
    }

    /// Every id, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.pages.iter().flat_map(|(&page, &bits)| {
            (0..PAGE_SLOTS as u64)
                .filter(move |slot| bits & (1 << slot) != 0)
                .map(move |slot| (page << PAGE_BITS) | slot)
        })
    }
}

impl FromIterator<u64> for IdSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut set = Self::new();
        set.extend(iter);
        set
    }
}

impl Extend<u64> for IdSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, iter: I) {
        for id in iter {
            self.insert(id);
        }
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

    #[test]
    fn id_set_inserts_removes_and_lists() {
        let mut set = IdSet::new();
        assert!(set.is_empty());
        for id in (1000..1200u64).chain([0, 63, 64, u64::MAX]) {
            assert!(set.insert(id));
        }
        assert!(!set.insert(1100), "already there");
        assert_eq!(set.len(), 204);
        assert!(set.contains(&1100) && set.contains(&u64::MAX) && set.contains(&0));
        assert!(!set.contains(&999) && !set.contains(&65));
        let mut ids: Vec<u64> = set.iter().collect();
        ids.sort_unstable();
        let expected: Vec<u64> = [0, 63, 64]
            .into_iter()
            .chain(1000..1200)
            .chain([u64::MAX])
            .collect();
        assert_eq!(ids, expected);
        for id in 1000..1200u64 {
            assert!(set.remove(&id));
        }
        assert!(!set.remove(&1000), "already gone");
        assert!(!set.remove(&5), "never there");
        assert_eq!(set.len(), 4);
        assert_eq!(set.pages.len(), 3, "emptied pages are freed");
        set.clear();
        assert!(set.is_empty() && set.iter().next().is_none());
        let set: IdSet = [5, 6, 5].into_iter().collect();
        assert_eq!(set.len(), 2);
    }
}
