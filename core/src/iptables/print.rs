//! Printing rules and commands exactly as `iptables-save` does.
//! (Stub: the contract; the implementation is being written.)
