//! libFuzzer harness for `nettwin_fuzz::jobspec`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nettwin_fuzz::jobspec(data));
