//! `report`: read, analyse, render; HTML to `-o`, findings to `--json`.

use crate::analyze::analyze;
use crate::cli::ReportArgs;
use crate::render;

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    super::check_output(&args.input.bundle, &args.output)?;
    if let Some(j) = &args.json {
        super::check_output(&args.input.bundle, j)?;
    }
    let loaded = super::load(&args.input, true)?;
    let findings = analyze(loaded, &crate::analyze::Params::default())?;
    let html = render::html(&findings)?;
    super::write_output(&args.output, html.as_bytes())?;
    if let Some(j) = &args.json {
        let mut s = serde_json::to_string_pretty(&findings)?;
        s.push('\n');
        super::write_output(j, s.as_bytes())?;
    }
    if !args.input.quiet && args.json.as_deref() != Some(std::path::Path::new("-")) {
        eprintln!("wrote {}", args.output.display());
    }
    Ok(())
}
