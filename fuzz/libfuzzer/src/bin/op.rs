//! libFuzzer harness for `nettwin_fuzz::op`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nettwin_fuzz::op(data));
