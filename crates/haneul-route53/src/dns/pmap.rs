//! A persistent (structurally shared) map from names: cloning it is O(1) and changing a key
//! copies only the O(log n) path to it, so a snapshot of a huge zone is updated for the cost
//! of the change, while the snapshot being served stays as it was.

use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct PersistentMap<V: Clone> {
    map: imbl::HashMap<Arc<str>, V>,
}

impl<V: Clone> Default for PersistentMap<V> {
    fn default() -> Self {
        PersistentMap {
            map: imbl::HashMap::new(),
        }
    }
}

impl<V: Clone> PersistentMap<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn insert(&mut self, key: &str, value: V) -> Option<V> {
        self.map.insert(Arc::from(key), value)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        self.map.remove(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_until_changed() {
        let mut a: PersistentMap<u32> = PersistentMap::default();
        for i in 0..1000 {
            a.insert(&format!("k{i}"), i);
        }
        let b = a.clone();
        a.insert("k1", 99);
        a.remove("k2");
        a.insert("new", 5);
        assert_eq!((a.get("k1"), b.get("k1")), (Some(&99), Some(&1)));
        assert_eq!((a.get("k2"), b.get("k2")), (None, Some(&2)));
        assert_eq!((a.get("new"), b.get("new")), (Some(&5), None));
        assert_eq!((a.len(), b.len()), (1000, 1000));
    }
}
