//! `inspect`: the inventory of a bundle, as a table or as JSON.

use std::fmt::Write;

use crate::cli::InspectArgs;
use crate::error::printable;
use crate::human::thousands;
use crate::ingest::Inventory;

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let inv = &super::inventory(&args.input)?;
    if args.json {
        let mut s = serde_json::to_string_pretty(inv)?;
        s.push('\n');
        super::write_output(std::path::Path::new("-"), s.as_bytes())?;
    } else {
        super::write_output(std::path::Path::new("-"), table(inv).as_bytes())?;
    }
    Ok(())
}

/// The inventory as text for a terminal. Entry names, server names and reasons come from the
/// input, so they pass through [`printable`].
pub fn table(inv: &Inventory) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "bundle   {}", printable(&inv.bundle));
    let _ = writeln!(s, "sha256   {}", inv.sha256);
    let _ = writeln!(
        s,
        "events   {} message-tracking rows, {} protocol-log lines",
        thousands(inv.events),
        thousands(inv.protocol_lines)
    );
    let _ = writeln!(
        s,
        "time     {} .. {}",
        inv.start.as_deref().unwrap_or("-"),
        inv.end.as_deref().unwrap_or("-")
    );
    let _ = writeln!(s, "servers  {}", printable(&inv.servers.join(", ")));
    let _ = writeln!(s);
    let w_server = inv
        .files
        .iter()
        .map(|f| f.server.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(6)
        .max(6);
    let w_version = inv
        .files
        .iter()
        .map(|f| f.version.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        s,
        "{:<17} {:<w_server$} {:<w_version$} {:>10} {:>9}  {:<24} {:<24} path",
        "kind", "server", "version", "rows", "malformed", "start", "end"
    );
    for f in &inv.files {
        let _ = writeln!(
            s,
            "{:<17} {:<w_server$} {:<w_version$} {:>10} {:>9}  {:<24} {:<24} {}{}",
            f.kind.as_str(),
            printable(f.server.as_deref().unwrap_or("-")),
            printable(f.version.as_deref().unwrap_or("-")),
            thousands(f.rows),
            thousands(f.malformed),
            f.start.as_deref().unwrap_or("-"),
            f.end.as_deref().unwrap_or("-"),
            printable(&f.path),
            f.skipped
                .as_deref()
                .map(|r| format!("  (skipped: {})", printable(r)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<17} {:>6} {:>12} {:>14}",
        "totals", "files", "rows", "bytes"
    );
    for (k, t) in &inv.totals {
        let _ = writeln!(
            s,
            "{:<17} {:>6} {:>12} {:>14}",
            k,
            thousands(t.files),
            thousands(t.rows),
            thousands(t.bytes)
        );
    }
    if !inv.malformed_lines.is_empty() {
        let _ = writeln!(
            s,
            "\nmalformed lines ({} in all):",
            thousands(inv.malformed_total)
        );
        for m in inv.malformed_lines.iter().take(20) {
            let _ = writeln!(
                s,
                "  {}:{}: {}",
                printable(&m.path),
                m.line,
                printable(&m.reason)
            );
        }
        if inv.malformed_lines.len() > 20 {
            let _ = writeln!(s, "  ... (all listed in --json)");
        }
    }
    if !inv.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings:");
        for w in &inv.warnings {
            let _ = writeln!(s, "  - {}", printable(w));
        }
    }
    s
}
