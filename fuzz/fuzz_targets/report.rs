//! Fuzz input split into one to three entries of a small zip, through the whole report chain
//! (read with the model collector, model, analyze, render to HTML): never a panic, and no
//! `<script` in the page but the report's own.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mf_fuzz::{fuzz_report, Scratch};

static SCRATCH: OnceLock<Scratch> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    fuzz_report(SCRATCH.get_or_init(Scratch::new), data);
});
