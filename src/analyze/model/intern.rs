//! Strings to dense ids. Addresses, message ids, servers and the like repeat on row after row;
//! the model keeps each once, in one arena, and works on `u32` ids. Ids are handed out in
//! insertion order, so the same rows in the same order always get the same ids (the hash
//! function's seed never shows).

use std::hash::BuildHasher;
use std::sync::OnceLock;

use hashbrown::HashTable;

/// Hash maps and sets keyed by ids, with the interner's fast fixed-seed hash (std's SipHash is
/// built to resist hash flooding, which keys made of our own dense ids cannot cause).
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

/// Marks "no value" in id columns.
pub const NONE: u32 = u32::MAX;

#[derive(Default, Clone)]
pub struct Interner {
    bytes: String,
    /// End offset of each name in `bytes` (start = previous end).
    ends: Vec<usize>,
    /// Every name's id filed by the hash of the name. Empty (not built) after
    /// [`Interner::push_unindexed`]: the first lookup, `&self` or not, files every name.
    table: OnceLock<HashTable<u32>>,
    hasher: foldhash::fast::FixedState,
    /// The id `id` answered last.
    last: u32,
}

/// The bytes of name `id` in the arena `bytes` whose names end at `ends` (`id` must be in
/// range). Lookups compare bytes: slicing the arena as `str` would also load the bytes at both
/// ends to check they are character boundaries, which every name's ends are.
#[inline]
fn name_in<'a>(bytes: &'a [u8], ends: &[usize], id: u32) -> &'a [u8] {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

/// How the table re-files its ids when it grows: by the hash of each id's name.
fn rehash<'a>(
    hasher: &'a foldhash::fast::FixedState,
    bytes: &'a [u8],
    ends: &'a [usize],
) -> impl Fn(&u32) -> u64 + 'a {
    move |&j| hasher.hash_one(name_in(bytes, ends, j))
}

/// A table filing every name of the arena.
fn filed(hasher: &foldhash::fast::FixedState, bytes: &[u8], ends: &[usize]) -> HashTable<u32> {
    let mut table = HashTable::with_capacity(ends.len());
    for i in 0..ends.len() as u32 {
        let h = hasher.hash_one(name_in(bytes, ends, i));
        table.insert_unique(h, i, rehash(hasher, bytes, ends));
    }
    table
}

impl Interner {
    /// The hash the table files `s` under (the same in every interner: the seed is fixed).
    pub(crate) fn hash(&self, s: &str) -> u64 {
        self.hasher.hash_one(s.as_bytes())
    }

    /// The id of `s`, adding it if new.
    pub fn id(&mut self, s: &str) -> u32 {
        // Rows repeat their neighbour's values (the server of a file, the message of its next
        // event): the last id answered is checked before hashing.
        let (bytes, ends, s_bytes) = (self.bytes.as_bytes(), &self.ends, s.as_bytes());
        if (self.last as usize) < ends.len() && name_in(bytes, ends, self.last) == s_bytes {
            return self.last;
        }
        let h = self.hash(s);
        let table = self.table.get_or_init(|| filed(&self.hasher, bytes, ends));
        if let Some(&i) = table.find(h, |&i| name_in(bytes, ends, i) == s_bytes) {
            self.last = i;
            return i;
        }
        self.last = self.push_new(s, h);
        self.last
    }

    /// Adds `s`, whose hash is `h` ([`Interner::hash`]), known by the caller not to be here
    /// yet: no lookup.
    pub(crate) fn push_new(&mut self, s: &str, h: u64) -> u32 {
        let mut table = self
            .table
            .take()
            .unwrap_or_else(|| filed(&self.hasher, self.bytes.as_bytes(), &self.ends));
        let i = self.ends.len() as u32;
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        table.insert_unique(
            h,
            i,
            rehash(&self.hasher, self.bytes.as_bytes(), &self.ends),
        );
        self.table = OnceLock::from(table);
        i
    }

    /// Adds `s`, known by the caller not to be here yet, without filing it for lookups: for a
    /// table built once and then only read by id (the model's message ids, half a million
    /// names at 2 M events, which the analysis never looks up by name). A later lookup files
    /// every name first, so answers are the same as if each had been filed.
    pub(crate) fn push_unindexed(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
        self.table.take();
    }

    /// Room for `names` more names of `bytes` bytes in all, in the arena (the table grows as
    /// names are filed; [`Interner::push_unindexed`] files none).
    pub(crate) fn reserve(&mut self, names: usize, bytes: usize) {
        self.bytes.reserve(bytes);
        self.ends.reserve(names);
    }

    /// Bytes of all names.
    pub(crate) fn name_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The id of `s` if known.
    pub fn get(&self, s: &str) -> Option<u32> {
        let (bytes, ends) = (self.bytes.as_bytes(), &self.ends);
        self.table
            .get_or_init(|| filed(&self.hasher, bytes, ends))
            .find(self.hash(s), |&i| name_in(bytes, ends, i) == s.as_bytes())
            .copied()
    }

    /// The bytes of name `id` (which must be in range), for comparing without the character
    /// boundary checks of [`Interner::name`].
    pub(crate) fn name_raw(&self, id: u32) -> &[u8] {
        name_in(self.bytes.as_bytes(), &self.ends, id)
    }

    /// The name of an id; empty for [`NONE`] or an unknown id.
    pub fn name(&self, id: u32) -> &str {
        let i = id as usize;
        if i >= self.ends.len() {
            return "";
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        (0..self.ends.len() as u32).map(|i| (i, self.name(i)))
    }

    /// Bytes held (names and table), for the timings.
    pub fn heap_bytes(&self) -> usize {
        let table = self.table.get().map_or(0, HashTable::capacity);
        self.bytes.capacity() + self.ends.capacity() * 8 + table * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names added without filing answer every lookup as filed ones do, whichever lookup comes
    /// first (`get` through `&self`, or `id`), and the first one files them all for the next.
    #[test]
    fn unindexed_names_are_found_as_filed_ones() {
        let names: Vec<String> = (0..5_000).map(|i| format!("<{i:x}@m>")).collect();
        let mut filed = Interner::default();
        let (mut get_first, mut id_first) = (Interner::default(), Interner::default());
        for n in &names {
            filed.id(n);
            get_first.push_unindexed(n);
            id_first.push_unindexed(n);
        }
        assert_eq!(get_first.len(), filed.len());
        assert!(get_first.table.get().is_none(), "nothing filed yet");
        for probe in ["<0@m>", "<1387@m>", "<zz@m>", ""] {
            assert_eq!(get_first.get(probe), filed.get(probe), "{probe}");
        }
        assert_eq!(
            get_first.table.get().map(HashTable::len),
            Some(5_000),
            "the first get filed every name"
        );
        assert_eq!(id_first.id("<1387@m>"), 0x1387, "an old name keeps its id");
        for u in [&mut get_first, &mut id_first] {
            assert_eq!(u.id("<new@m>"), 5_000, "a new name comes next");
            assert_eq!(u.id("<new@m>"), 5_000);
            for (i, n) in names.iter().enumerate() {
                assert_eq!(u.get(n), Some(i as u32));
                assert_eq!(u.name(i as u32), n);
            }
        }
        let mut pushed = Interner::default();
        pushed.push_unindexed("a");
        assert_eq!(pushed.push_new("b", pushed.hash("b")), 1);
        assert_eq!(
            pushed.get("a"),
            Some(0),
            "push_new files the names before it"
        );
        pushed.push_unindexed("c");
        assert_eq!(
            (pushed.get("a"), pushed.get("b"), pushed.get("c")),
            (Some(0), Some(1), Some(2)),
            "a name added unfiled after filed ones is found with them"
        );
    }

    #[test]
    fn ids_are_dense_and_stable() {
        let mut a = Interner::default();
        assert_eq!(a.id("x@corp"), 0);
        assert_eq!(a.id("y@corp"), 1);
        assert_eq!(a.id("y@corp"), 1, "the last id, answered without hashing");
        assert_eq!(
            a.id("y@cor"),
            2,
            "a prefix of the last name is another name"
        );
        assert_eq!(a.id("x@corp"), 0);
        assert_eq!(a.id(""), 3);
        assert_eq!(a.name(1), "y@corp");
        assert_eq!(a.name(3), "");
        assert_eq!(a.name(NONE), "");
        assert_eq!(a.get("y@corp"), Some(1));
        assert_eq!(a.get("z"), None);
        for i in 0..10_000 {
            a.id(&format!("m{i}"));
        }
        assert_eq!(a.get("m9999"), Some(10_003));
        assert_eq!(a.len(), 10_004);
    }
}
