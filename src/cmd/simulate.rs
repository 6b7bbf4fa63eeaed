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
