//! `report`: read the bundle into the model, analyse, render; HTML to `-o`, findings to `--json`.

use crate::analyze::evidence::FromBundle;
use crate::analyze::model::build::ModelCollector;
use crate::analyze::model::Model;
use crate::analyze::{analyze, Params};
use crate::cli::ReportArgs;
use crate::render;

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let mut outs = vec![args.output.as_path()];
    outs.extend(args.json.as_deref());
    super::check_outputs(&args.input.bundle, &outs)?;
    if !(0.0..100.0).contains(&args.slo_target) {
        return Err(crate::Error::BadOption {
            option: "--slo-target",
            detail: format!("{} is not a percentage below 100", args.slo_target),
        }
        .into());
    }
    let mut sw = crate::timing::Stopwatch::start();
    let ingest_opts = super::ingest_options(&args.input)?;
    let read = super::read(&args.input, &ingest_opts, &ModelCollector)?;
    sw.lap("ingest");
    let model = Model::from_chunks(read.chunks, read.entries);
    sw.lap("model");
    let mut params = Params::default();
    params.sli.window_ms = args.window;
    params.sli.slo_latency_ms = args.slo_latency;
    params.sli.slo_target = args.slo_target / 100.0;
    params.storms.floor_per_minute = args.storm_floor.max(1);
    params.include_probes = args.include_probes;
    let evidence = FromBundle::new(&read.input);
    let findings = analyze(&model, &read.inventory, &params, &evidence)?;
    sw.lap("analyze");
    let opts = render::RenderOptions {
        template_dir: args.template_dir.clone(),
        stamp: args.stamp.then(|| {
            chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        }),
    };
    let html = render::html(&findings, &opts)?;
    sw.lap("render");
    let json = match &args.json {
        Some(_) => {
            let mut s = serde_json::to_string_pretty(&findings)?;
            s.push('\n');
            s
        }
        None => String::new(),
    };
    let mut writes = vec![(args.output.as_path(), html.as_bytes())];
    writes.extend(args.json.as_deref().map(|j| (j, json.as_bytes())));
    super::write_outputs(&writes)?;
    if !args.input.quiet && args.json.as_deref() != Some(std::path::Path::new("-")) {
        eprintln!("wrote {}", args.output.display());
    }
    Ok(())
}
