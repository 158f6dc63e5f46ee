//! Traversal tests.
