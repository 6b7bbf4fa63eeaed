//! Arbitrary bytes as a bundle (a `.zip`, and a plain log file) through the bundle reader and
//! the inventory: never a panic; errors are fine.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mf_fuzz::{fuzz_bundle, Scratch};

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    fuzz_bundle(SCRATCH.get_or_init(Scratch::new), data);
});
