//! Phase timings on stderr when `MAILFORENSICS_TIMINGS` is set: how the benchmark figures in the
//! README break down, without a profiler. Silent otherwise.

use std::time::Instant;

pub struct Stopwatch {
    on: bool,
    last: Instant,
    /// The process's CPU seconds at `last`, to show how many cores a phase kept busy.
    cpu: f64,
}

impl Stopwatch {
    pub fn start() -> Self {
        let on = enabled();
        Stopwatch {
            on,
            last: Instant::now(),
            cpu: if on { cpu_seconds() } else { 0.0 },
        }
    }

    pub fn lap(&mut self, what: &str) {
        if self.on {
            let cpu = cpu_seconds();
            eprintln!(
                "timing: {what:<24} {:>8.3} s  cpu {:>6.2} s   {}",
                self.last.elapsed().as_secs_f64(),
                cpu - self.cpu,
                memory()
            );
            self.cpu = cpu;
        }
        self.last = Instant::now();
    }
}

/// User and system CPU seconds of the whole process so far, from /proc (Linux only; 0
/// elsewhere). Clock ticks are taken to be 100 per second, as on every Linux we run on.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) as f64 / 100.0
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
