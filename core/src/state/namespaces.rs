//! `Namespaces`: the namespaces of a `State` by name, found through a hash index and
//! iterated in name order.
//!
//! Every op names its namespace, and a planned /20 has some 4,100 of them with 36-byte
//! names: a B-tree lookup compared a dozen names per op. Here a lookup hashes the name
//! once (FxHash); the names are also kept sorted, so that iteration — what snapshots,
//! the simulator's indexes and every rendering see — is in byte order of the name, as
//! it was with the `BTreeMap`.
//!
//! Invariant: `order` holds exactly the keys of `by_name`.

use std::borrow::Borrow;
use std::collections::{BTreeSet, btree_set};
use std::fmt;
use std::hash::Hash;

use super::Netns;
use crate::hash::FxHashMap;
use crate::names::NetnsName;

/// Namespaces by name: looked up by hash, iterated in name order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    by_name: FxHashMap<NetnsName, Netns>,
    order: BTreeSet<NetnsName>,
}

impl Namespaces {
    /// A namespace by name.
    pub fn get<Q>(&self, name: &Q) -> Option<&Netns>
    where
        NetnsName: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_name.get(name)
    }

    /// A namespace with its name as stored.
    pub fn get_key_value<Q>(&self, name: &Q) -> Option<(&NetnsName, &Netns)>
    where
        NetnsName: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_name.get_key_value(name)
    }

    /// Whether a namespace of that name exists.
    pub fn contains_key<Q>(&self, name: &Q) -> bool
    where
        NetnsName: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_name.contains_key(name)
    }

    /// How many namespaces there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every namespace, in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { names: self.order.iter(), by_name: &self.by_name }
    }

    /// Every name, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &NetnsName> + '_ {
        self.order.iter()
    }

    /// Every namespace, in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Netns> + '_ {
        self.iter().map(|(_, ns)| ns)
    }

    pub(super) fn get_mut<Q>(&mut self, name: &Q) -> Option<&mut Netns>
    where
        NetnsName: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.by_name.get_mut(name)
    }

    pub(super) fn insert(&mut self, name: NetnsName, ns: Netns) -> Option<Netns> {
        let old = self.by_name.insert(name.clone(), ns);
        if old.is_none() {
            self.order.insert(name);
        }
        old
    }

    pub(super) fn remove<Q>(&mut self, name: &Q) -> Option<Netns>
    where
        NetnsName: Borrow<Q>,
        Q: Hash + Eq + Ord + ?Sized,
    {
        let ns = self.by_name.remove(name)?;
        self.order.remove(name);
        Some(ns)
    }
}

/// The namespaces in name order, from [`Namespaces::iter`].
pub struct Iter<'a> {
    names: btree_set::Iter<'a, NetnsName>,
    by_name: &'a FxHashMap<NetnsName, Netns>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a NetnsName, &'a Netns);

    fn next(&mut self) -> Option<Self::Item> {
        let by_name = self.by_name;
        self.names.find_map(|name| by_name.get_key_value(name))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.names.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let by_name = self.by_name;
        self.names.by_ref().rev().find_map(|name| by_name.get_key_value(name))
    }
}

impl<'a> IntoIterator for &'a Namespaces {
    type Item = (&'a NetnsName, &'a Netns);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Namespaces {
    /// As the `BTreeMap` it replaces printed: a map in name order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn name(i: u8) -> NetnsName {
        // Names that share long prefixes and differ in length, to exercise the order.
        let s = format!("ns-{}", "x".repeat(usize::from(i % 7))) + &i.to_string();
        NetnsName::new(&s).unwrap_or_else(|e| panic!("{e}"))
    }

    proptest! {
        /// The index answers exactly what a `BTreeMap` of the same inserts and removes
        /// answers: lookups, length, and iteration order.
        #[test]
        fn index_agrees_with_a_btreemap(ops in prop::collection::vec((any::<bool>(), 0u8..40), 0..200)) {
            let mut index = Namespaces::default();
            let mut plain: BTreeMap<NetnsName, Netns> = BTreeMap::new();
            for (i, (add, n)) in ops.iter().enumerate() {
                let key = name(*n);
                if *add {
                    let mut ns = Netns::new();
                    ns.conf_all.forwarding = u8::from(i % 2 == 0);
                    prop_assert_eq!(
                        index.insert(key.clone(), ns.clone()).is_some(),
                        plain.insert(key, ns).is_some()
                    );
                } else {
                    prop_assert_eq!(index.remove(&key), plain.remove(&key));
                }
                prop_assert_eq!(index.len(), plain.len());
            }
            prop_assert!(index.iter().eq(plain.iter()));
            prop_assert!(index.keys().eq(plain.keys()));
            prop_assert!(index.iter().rev().eq(plain.iter().rev()));
            prop_assert_eq!(format!("{index:?}"), format!("{plain:?}"));
            for n in 0u8..40 {
                let key = name(n);
                prop_assert_eq!(index.get(&key), plain.get(&key));
                prop_assert_eq!(index.get(key.as_str()), plain.get(key.as_str()));
                prop_assert_eq!(index.contains_key(&key), plain.contains_key(&key));
            }
        }
    }
}
