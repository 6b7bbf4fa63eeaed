//! The `mailforensics` binary: parse flags, run, and turn an error into one line and exit code 2.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mailforensics::cli::Cli::parse();
    match mailforensics::cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`inspect b.zip | head -1`): it has what it wanted,
        // so this is not a failure, and a message about it would only be noise.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "mailforensics: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes as `{err:#}` prints them, on one line: a cause that its parent
/// already spelt out (some libraries put their source in their own message) is not repeated,
/// and control characters from the input cannot break the line or drive the terminal.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    mailforensics::error::printable(&line)
}
