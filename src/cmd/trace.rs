//! `trace`: every hop of a message across servers, in time order.

use crate::cli::TraceArgs;

pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("trace is not available yet")
}
