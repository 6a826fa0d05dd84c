//! Fuzz target: see `checks_backend::event`.
#![no_main]
#[path = "../checks_backend.rs"]
mod checks_backend;
libfuzzer_sys::fuzz_target!(|data: &[u8]| checks_backend::event(data));
