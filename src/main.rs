//! The `mailforensics` binary: parse flags, run, and turn an error into one line and exit code 2.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mailforensics::cli::Cli::parse();
    match mailforensics::cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("mailforensics: {err:#}");
            ExitCode::from(2)
        }
    }
}
