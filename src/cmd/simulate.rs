//! `simulate`: writes a synthetic bundle (and optionally its ground truth).

use crate::cli::SimulateArgs;
use crate::simulate::{simulate, SimOptions};

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let opts = SimOptions {
        scenario: args.scenario,
        events: args.events,
        seed: args.seed,
        servers: args.servers.max(2),
        protocol_logs: !args.no_protocol_logs,
        hours: args.hours,
        flood_from: args.flood_from,
        flood_until: args.flood_until,
        flood_rate: args.flood_rate,
        notice_refs: args.notice_refs,
        responder_minutes: args.responder_minutes,
        responder_markers: args.responder_markers,
        conversations: args.conversations,
        probes: args.probes,
        latency_parts: args.latency_parts,
        skewed_client: args.skewed_client,
        plants: args.plants,
        ..SimOptions::default()
    };
    let truth = simulate(&opts, &args.output)?;
    if let Some(p) = &args.truth {
        let mut s = serde_json::to_string_pretty(&truth)?;
        s.push('\n');
        super::write_output(p, s.as_bytes())?;
    }
    eprintln!(
        "wrote {} ({} message-tracking rows)",
        args.output.display(),
        crate::human::thousands(truth.rows)
    );
    Ok(())
}
