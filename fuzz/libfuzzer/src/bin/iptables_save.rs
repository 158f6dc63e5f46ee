//! libFuzzer harness for `nettwin_fuzz::iptables_save`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nettwin_fuzz::iptables_save(data));
