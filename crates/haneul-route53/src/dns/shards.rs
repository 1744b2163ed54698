//! A map split into shards behind `Arc`s: cloning it clones 64 pointers, and changing one key
//! copies only that key's shard. Snapshots of huge zones are updated in place this way
//! without copying the zone.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Shards per map: a 1,000,000-name zone has ~16,000 names per shard.
const SHARDS: usize = 64;

#[derive(Debug, Clone)]
pub struct Shards<V> {
    shards: Vec<Option<Arc<HashMap<String, V>>>>,
    hasher: std::collections::hash_map::RandomState,
    len: usize,
}

impl<V: Clone> Default for Shards<V> {
    fn default() -> Self {
        Shards {
            shards: vec![None; SHARDS],
            hasher: std::collections::hash_map::RandomState::new(),
            len: 0,
        }
    }
}

impl<V: Clone> Shards<V> {
    fn shard_of(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) as usize) % SHARDS
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.shards[self.shard_of(key)].as_ref()?.get(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shard holding `key`, copied first if another snapshot shares it.
    fn shard_mut(&mut self, key: &str) -> &mut HashMap<String, V> {
        let i = self.shard_of(key);
        Arc::make_mut(self.shards[i].get_or_insert_with(Default::default))
    }

    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        let old = self.shard_mut(&key).insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.shard_of(key);
        let shard = self.shards[i].as_mut()?;
        if !shard.contains_key(key) {
            return None;
        }
        let old = Arc::make_mut(shard).remove(key);
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// The value at `key`, inserted as `default()` first when absent.
    pub fn entry_or_insert_with(&mut self, key: &str, default: impl FnOnce() -> V) -> &mut V {
        let i = self.shard_of(key);
        let shard = Arc::make_mut(self.shards[i].get_or_insert_with(Default::default));
        if !shard.contains_key(key) {
            self.len += 1;
        }
        shard.entry(key.to_string()).or_insert_with(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_until_changed() {
        let mut a: Shards<u32> = Shards::default();
        for i in 0..1000 {
            a.insert(format!("k{i}"), i);
        }
        let b = a.clone();
        a.insert("k1".into(), 99);
        a.remove("k2");
        *a.entry_or_insert_with("new", || 0) += 5;
        assert_eq!((a.get("k1"), b.get("k1")), (Some(&99), Some(&1)));
        assert_eq!((a.get("k2"), b.get("k2")), (None, Some(&2)));
        assert_eq!((a.get("new"), b.get("new")), (Some(&5), None));
        assert_eq!((a.len(), b.len()), (1000, 1000));
    }
}
