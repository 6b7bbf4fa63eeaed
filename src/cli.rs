//! Command-line interface: the flags and their help text (doc comments are the help), nothing
//! else. Each subcommand's work lives in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Postmortems of Exchange mail incidents, from the servers' own logs.
///
/// Give it the logs as you collected them (a zip of the servers' TransportRoles\Logs folders,
/// a folder, or one file): message tracking logs of any Exchange version, SMTP protocol logs,
/// PowerShell Export-Csv files and Exchange Online traces. Nothing is extracted to disk and the
/// input is never written to.
#[derive(Debug, Parser)]
#[command(name = "mailforensics", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List what the bundle holds: per file its kind, server, version, rows, malformed lines and
    /// time range, with totals and warnings.
    Inspect(InspectArgs),
    /// Analyse the bundle and write the incident report (HTML) and, if asked, the findings (JSON).
    Report(ReportArgs),
    /// Follow one message (or all matching messages) hop by hop across servers.
    Trace(TraceArgs),
    /// Write the canonical frames as Parquet datasets (events, protocol, sessions), partitioned
    /// by server and date, for Spark, Trino, DuckDB, Polars or DataFusion.
    Export(ExportArgs),
    /// Write a synthetic bundle of a known incident, for trying the tool and for benchmarks.
    Simulate(SimulateArgs),
}

/// How to read the input; shared by every command that reads a bundle.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// The log bundle: a .zip, a folder, or a single log file (.LOG, .csv, .gz).
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,

    /// Refuse bundles that inflate past this many bytes in all (zip-bomb guard). Accepts
    /// suffixes K, M, G, T (powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = "16G", value_parser = parse_size)]
    pub max_uncompressed: u64,

    /// Refuse an entry that inflates more than this many times its compressed size (zip-bomb
    /// guard; logs compress 10 to 50 times).
    #[arg(long, value_name = "RATIO", default_value_t = 1000)]
    pub max_ratio: u64,

    /// chrono format of the timestamps in PowerShell CSV exports (e.g. '%d.%m.%Y %H:%M:%S').
    /// Detected from the data when not given.
    #[arg(long, value_name = "FORMAT", allow_hyphen_values = true)]
    pub csv_time_format: Option<String>,

    /// UTC offset of the machine that made PowerShell CSV exports (e.g. +02:00, -05:00, UTC).
    /// Their timestamps are local time; without this they are read as UTC, with a warning.
    /// Tracking logs and Exchange Online traces are always UTC and ignore it.
    #[arg(long, value_name = "OFFSET", allow_hyphen_values = true)]
    pub tz: Option<String>,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// Where to write the HTML report.
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,

    /// Also write the findings as JSON to FILE (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Delivery-latency objective, e.g. 60s or 5m: the report then shows how many messages
    /// missed it and how much of the error budget that burned.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ms)]
    pub slo_latency: Option<i64>,

    /// Share of messages that must meet --slo-latency, in percent.
    #[arg(long, value_name = "PERCENT", default_value_t = 99.0)]
    pub slo_target: f64,

    /// Width of the SLI windows (failure ratio and latency percentiles over time).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration_ms)]
    pub window: i64,

    /// No storm below this many messages per minute from one sender, to one recipient or
    /// between one pair, whatever their usual rate.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub storm_floor: u64,

    /// Keep health probes and monitoring mailboxes (HealthMailbox..., extest_...) in the
    /// analysis (loops, storms, SLIs, queues, latency, flow, client IPs and tables); by default
    /// they are counted apart.
    #[arg(long)]
    pub include_probes: bool,

    /// Render with the templates in DIR (report.html, style.css) instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub template_dir: Option<PathBuf>,

    /// Write the time of the run into the report (off by default, so the same bundle gives
    /// the same bytes).
    #[arg(long)]
    pub stamp: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// The Message-ID to follow (with or without the angle brackets).
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    pub message_id: Option<String>,

    /// Messages from this sender (case-insensitive).
    #[arg(long, value_name = "ADDRESS", allow_hyphen_values = true)]
    pub sender: Option<String>,

    /// Messages to this recipient (case-insensitive).
    #[arg(long, value_name = "ADDRESS", allow_hyphen_values = true)]
    pub recipient: Option<String>,

    /// Messages whose subject contains this text (case-insensitive).
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub subject: Option<String>,

    /// At most this many messages (the earliest first) when a filter matches several.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,

    /// Print JSON instead of the table: one object for --message-id, else an array.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// What happens in the bundle besides ordinary background mail.
    #[arg(long, value_enum, default_value = "incident")]
    pub scenario: crate::simulate::Scenario,

    /// About how many message-tracking rows to write. Floods, responders and conversations
    /// take their share of it; the flood's rows follow from its rate, so a heavy flood can
    /// write more.
    #[arg(long, default_value_t = 20_000)]
    pub events: u64,

    /// Seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Number of Exchange servers (at least 2).
    #[arg(long, default_value_t = 2)]
    pub servers: usize,

    /// Length of the bundle in hours (from 08:00 UTC); the scenarios' events keep their share
    /// of it (the incident's mailbox fills after a quarter, for instance).
    #[arg(long, value_name = "N", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::simulate::MAX_HOURS)))]
    pub hours: u32,

    /// Flood: when the application starts, as a share of the bundle (0.0 to 1.0). With 0 its
    /// first message comes in the bundle's first minute.
    #[arg(long, value_name = "F", default_value_t = 0.5)]
    pub flood_from: f64,

    /// Flood: when it stops, as a share of the bundle (0.0 to 1.0). With 1 its last message
    /// comes in the bundle's last minute: a job mailing one mailbox all day.
    #[arg(long, value_name = "U", default_value_t = 1.0)]
    pub flood_until: f64,

    /// Flood: messages per minute (Poisson arrivals).
    #[arg(long, value_name = "R", default_value_t = 40.0)]
    pub flood_rate: f64,

    /// Defers: the "inbox full" notice's MAILBOXRULE RECEIVE row carries the alert's
    /// message id in `reference`, as Exchange does for some auto-replies.
    #[arg(long)]
    pub notice_refs: bool,

    /// Responder: minutes the outside ticket system keeps answering.
    #[arg(long, value_name = "M", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::simulate::MAX_HOURS) * 60))]
    pub responder_minutes: u32,

    /// Responder: subject markers of the help desk's auto-replies: `auto` rotates through
    /// languages ("Automatic reply:", "Abwesenheitsnotiz:", ...) round by round, `none` writes
    /// plain `Re: <subject>`.
    #[arg(long, value_enum, default_value = "auto")]
    pub responder_markers: crate::simulate::Markers,

    /// Add human conversations to the background: threads of 2-6 messages with `Re:`
    /// subjects between colleagues and with outside contacts, replies minutes to an hour apart,
    /// and one out-of-office reply that is not answered.
    #[arg(long)]
    pub conversations: bool,

    /// Add the noise real Exchange logs are full of: Managed Availability probes every five
    /// minutes per server from and to HealthMailbox<32 hex> mailboxes, inbound and outbound
    /// proxy probes, and shadow redundancy (HAREDIRECT, HARECEIVE, now and then HADISCARD)
    /// for mail entering the organisation. Implies --latency-parts.
    #[arg(long)]
    pub probes: bool,

    /// Write Exchange 2016-style latency parts into the message-info of SUBMIT, DELIVER and
    /// SEND rows (`...;SRV=host:TOTAL-HUB=0.316|SMR=...|CAT=...`), adding up to the row times.
    #[arg(long)]
    pub latency_parts: bool,

    /// One user's client clock is off by OFFSET (e.g. 10m ahead, =-2h behind): its messages'
    /// origination times are off by that much. Give the value with '='.
    #[arg(long, value_name = "OFFSET", num_args = 0..=1, require_equals = true,
          default_missing_value = "10m", allow_hyphen_values = true,
          value_parser = parse_signed_duration_ms)]
    pub skewed_client: Option<i64>,

    /// Plant one incident of this kind (repeatable, or comma-separated), a few dozen to a few
    /// hundred rows each, into whatever the scenario writes; typically with `quiet`.
    #[arg(long = "plant", value_name = "KIND", value_enum, value_delimiter = ',')]
    pub plants: Vec<crate::simulate::PlantKind>,

    /// Leave out the SMTP protocol logs.
    #[arg(long)]
    pub no_protocol_logs: bool,

    /// Also write the ground truth (what the generator put in) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,

    /// The zip to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

/// `500ms`, `60s`, `1.5m`, `2h` → milliseconds. A bare number is seconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("not a duration: {s:?} (e.g. 60s, 5m, 1h)"))?;
    let mult = match unit.trim() {
        "ms" => 1.0,
        "" | "s" => 1000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return Err(format!("unknown unit in {s:?}; use ms, s, m or h")),
    };
    let ms = (n * mult).round();
    if ms < 1.0 {
        return Err(format!("{s:?} is shorter than 1 ms"));
    }
    // 1e13 ms is three centuries: anything longer is a typo, and i64 must hold it exactly.
    if ms > 1e13 {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(ms as i64)
}

/// `10m`, `+10m`, `-2h` → signed milliseconds.
pub fn parse_signed_duration_ms(s: &str) -> Result<i64, String> {
    let t = s.trim();
    match t.strip_prefix('-') {
        Some(rest) => parse_duration_ms(rest).map(|ms| -ms),
        None => parse_duration_ms(t.strip_prefix('+').unwrap_or(t)),
    }
}

/// `16G`, `500M`, `16GB`, `16GiB`, `1024` → bytes. Suffixes are powers of 1024, in any case;
/// a bare number is bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if unit.starts_with(['.', ',']) {
        return Err(format!(
            "not a whole number: {s:?} (write 1536M rather than 1.5G)"
        ));
    }
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ if num.is_empty() => return Err(format!("not a size: {s:?} (e.g. 16G, 500M)")),
        _ => return Err(format!("unknown size suffix in {s:?}; use K, M, G or T")),
    };
    let n: u64 = num.parse().map_err(|e: std::num::ParseIntError| {
        if *e.kind() == std::num::IntErrorKind::PosOverflow {
            format!("size too large: {s:?}")
        } else {
            format!("not a size: {s:?} (e.g. 16G, 500M)")
        }
    })?;
    if n == 0 {
        // A zero limit refuses every bundle with a message about zip bombs.
        return Err(format!("{s:?} is zero; give a size of at least one byte"));
    }
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_suffixes_in_any_case() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("1024B"), Ok(1024));
        assert_eq!(parse_size("1K"), Ok(1024));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("500m"), Ok(500 << 20));
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        assert_eq!(parse_size("16GB"), Ok(16 << 30));
        assert_eq!(parse_size("16GiB"), Ok(16 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
    }

    #[test]
    fn sizes_tolerate_whitespace() {
        assert_eq!(parse_size(" 16G "), Ok(16 << 30));
        assert_eq!(parse_size("16 G"), Ok(16 << 30));
        assert_eq!(parse_size("\t1K\n"), Ok(1024));
    }

    #[test]
    fn bad_sizes_say_why() {
        let err = |s: &str| parse_size(s).expect_err(s);
        assert!(err("").contains("not a size"));
        assert!(err("G").contains("not a size"));
        assert!(err("-1").contains("not a size"));
        assert!(err("lots").contains("not a size"));
        assert!(err("16E").contains("unknown size suffix"));
        assert!(err("16Gx").contains("unknown size suffix"));
        assert!(err("1.5G").contains("whole number"));
        assert!(err("0").contains("zero"));
        assert!(err("0G").contains("zero"));
    }

    #[test]
    fn sizes_that_overflow_are_refused() {
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_size("18446744073709551616")
            .expect_err("u64 overflow")
            .contains("too large"));
        assert_eq!(parse_size("16777215T"), Ok(16_777_215 << 40));
        assert!(parse_size("16777216T")
            .expect_err("2^64")
            .contains("too large"));
    }

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("60s"), Ok(60_000));
        assert_eq!(
            parse_duration_ms("60"),
            Ok(60_000),
            "a bare number is seconds"
        );
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("5min"), Ok(300_000));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms(" 5 m "), Ok(300_000));
    }

    #[test]
    fn fractional_durations_round_to_milliseconds() {
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert_eq!(parse_duration_ms("0.5m"), Ok(30_000));
        assert_eq!(parse_duration_ms(".25s"), Ok(250));
        assert_eq!(parse_duration_ms("1.0004s"), Ok(1000));
        assert_eq!(parse_duration_ms("2.5ms"), Ok(3), "half away from zero");
    }

    #[test]
    fn bad_durations_say_why() {
        let err = |s: &str| parse_duration_ms(s).expect_err(s);
        assert!(err("").contains("not a duration"));
        assert!(err("s").contains("not a duration"));
        assert!(err("-5s").contains("not a duration"));
        assert!(err("1.2.3s").contains("not a duration"));
        assert!(err("5d").contains("unknown unit"));
        assert!(err("5M").contains("unknown unit"), "M is not minutes");
        assert!(err("1h30m").contains("unknown unit"));
        assert!(err("1e3s").contains("unknown unit"));
        assert!(err("0").contains("shorter than 1 ms"));
        assert!(err("0.0004s").contains("shorter than 1 ms"));
        assert!(err("4000000h").contains("out of range"));
        assert!(err(&"9".repeat(400)).contains("out of range"));
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub input: InputArgs,

    /// The folder to write: it must not exist, or be empty. It receives `events/`, `protocol/`
    /// and `sessions/` (each `server=NAME/date=YYYY-MM-DD/part-0.parquet`) and `inventory.json`
    /// (what `inspect --json` prints). Written to a temporary folder beside it and renamed into
    /// place when complete: a failed export leaves nothing.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
}
