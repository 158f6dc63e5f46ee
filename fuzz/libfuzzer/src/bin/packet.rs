//! libFuzzer harness for `nettwin_fuzz::packet`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nettwin_fuzz::packet(data));
