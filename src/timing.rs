//! Phase timings on stderr when `MAILFORENSICS_TIMINGS` is set: how the benchmark figures in the
//! README break down, without a profiler. Silent otherwise.

use std::time::Instant;

pub struct Stopwatch {
    on: bool,
    last: Instant,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch {
            on: enabled(),
            last: Instant::now(),
        }
    }

    pub fn lap(&mut self, what: &str) {
        if self.on {
            eprintln!(
                "timing: {what:<24} {:>8.3} s   {}",
                self.last.elapsed().as_secs_f64(),
                memory()
            );
        }
        self.last = Instant::now();
    }
}

fn enabled() -> bool {
    std::env::var_os("MAILFORENSICS_TIMINGS").is_some()
}

/// One step's time, on a line of its own (steps that run side by side, such as detectors).
pub fn note(what: &str, since: Instant) {
    if enabled() {
        eprintln!(
            "timing:   {what:<22} {:>8.3} s",
            since.elapsed().as_secs_f64()
        );
    }
}

/// Runs `f` and notes its time ([`note`]).
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let since = Instant::now();
    let out = f();
    note(what, since);
    out
}

/// Current and peak resident memory, from /proc (Linux only; empty elsewhere).
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    status
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("  ")
}
