//! The `vigil` binary: parse arguments, set up logging, hand over to the
//! library. Errors end here as one sentence on stderr and a non-zero exit.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = vigil::cli::parse();
    match vigil::app::run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`vigil summary … | head`):
        // what it wanted, it got. Quiet, as `cat` or `grep` would be.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigil: {}", message(&error));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            // JSON written straight to stdout wraps the write's error.
            .or_else(|| cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind));
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, each cause once: several error
/// types name their source in their own message ("cannot read config file
/// x: No such file…") and also return it as `source()`.
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
