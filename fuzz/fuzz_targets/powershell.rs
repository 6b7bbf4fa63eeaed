//! Arbitrary bytes through the powershell reader, as they are and behind a valid header; see
//! `mf_fuzz::check_reader` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mf_fuzz::{fuzz_reader, Format};

fuzz_target!(|data: &[u8]| {
    fuzz_reader(Format::Powershell, data);
});
