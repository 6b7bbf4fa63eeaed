//! `trace`: every hop of a message across servers, in time order, as a table or JSON.

use std::fmt::Write;

use crate::analyze::trace::{trace, Trace, TraceFilter};
use crate::cli::TraceArgs;
use crate::error::{printable, Error};

pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    if args.message_id.is_none()
        && args.sender.is_none()
        && args.recipient.is_none()
        && args.subject.is_none()
    {
        return Err(Error::BadOption {
            option: "trace",
            detail: "say what to follow: --message-id, --sender, --recipient or --subject".into(),
        }
        .into());
    }
    let frames = super::load(&args.input)?.frames;
    let filter = TraceFilter {
        message_id: args.message_id.clone(),
        sender: args.sender.clone(),
        recipient: args.recipient.clone(),
        subject: args.subject.clone(),
        limit: args.limit,
    };
    let traces = trace(&frames, &filter)?;
    if traces.is_empty() {
        return Err(Error::NoMatch.into());
    }
    let out = if args.json {
        let mut s = if args.message_id.is_some() && traces.len() == 1 {
            serde_json::to_string_pretty(&traces[0])?
        } else {
            serde_json::to_string_pretty(&traces)?
        };
        s.push('\n');
        s
    } else {
        traces.iter().map(table).collect::<Vec<_>>().join("\n")
    };
    super::write_output(std::path::Path::new("-"), out.as_bytes())?;
    Ok(())
}

fn table(t: &Trace) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "message  {}", printable(&t.message_id));
    let _ = writeln!(s, "from     {}", printable(&t.sender));
    let _ = writeln!(s, "subject  {}", printable(&t.subject));
    let _ = writeln!(s, "hops     {}", t.hops.len());
    let _ = writeln!(
        s,
        "{:<24}  {:<8} {:<13} {:<12} {:<34} {:<28} status / session",
        "time (UTC)", "server", "event", "source", "from -> to", "connector"
    );
    for h in &t.hops {
        let from = if h.client_hostname.is_empty() {
            &h.client_ip
        } else {
            &h.client_hostname
        };
        let to = if h.server_hostname.is_empty() {
            &h.server_ip
        } else {
            &h.server_hostname
        };
        let route = if from.is_empty() && to.is_empty() {
            String::new()
        } else {
            format!("{from} -> {to}")
        };
        let mut tail = h.status.join("; ");
        if let Some(sess) = &h.session {
            if !tail.is_empty() {
                tail.push_str("  ");
            }
            let _ = write!(
                tail,
                "[{} session {} {} -> {}, {} lines, {}]",
                sess.log_kind,
                sess.session_id,
                sess.remote_endpoint,
                sess.local_endpoint,
                sess.lines,
                sess.entry
            );
        }
        let _ = writeln!(
            s,
            "{:<24}  {:<8} {:<13} {:<12} {:<34} {:<28} {}",
            h.time,
            printable(&h.server),
            printable(&h.event_id),
            printable(&h.source),
            printable(&route),
            printable(&h.connector_id),
            printable(&tail)
        );
        let _ = writeln!(
            s,
            "{:<24}  {}",
            "",
            printable(&format!("{}:{}", h.path, h.line))
        );
    }
    s
}
