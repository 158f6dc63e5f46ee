//! libFuzzer harness for `nettwin_fuzz::scenario`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nettwin_fuzz::scenario(data));
