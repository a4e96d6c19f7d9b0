//! What each subcommand does: resolves the command line, configuration and
//! profiles into a [`SessionPlan`](crate::session::SessionPlan) or a
//! one-shot action.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{Cli, Command, CommonArgs};
use crate::config::Config;
use crate::model::Characteristic;

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decode(args) => decode(&args.characteristic, &args.hex.join("")),
        Command::Config => {
            std::io::stdout().lock().write_all(crate::config::default_toml().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(_) => not_yet("simulate", 4),
        Command::Monitor(_) => not_yet("monitor", 4),
        Command::Replay(_) => not_yet("replay", 5),
        Command::Scan(_) => not_yet("scan", 7),
        Command::Summary(_) => not_yet("summary", 5),
        Command::Export(_) => not_yet("export", 5),
        Command::Report(_) => not_yet("report", 5),
        Command::Recover(_) => not_yet("recover", 5),
    }
}

fn not_yet(command: &str, issue: u32) -> anyhow::Result<ExitCode> {
    bail!("`vigil {command}` is not yet available in this build (issue {issue})")
}

/// `vigil decode CHARACTERISTIC HEX`: one payload to one JSON object.
fn decode(characteristic: &str, hex_text: &str) -> anyhow::Result<ExitCode> {
    let characteristic = Characteristic::parse(characteristic)?;
    let cleaned: String = hex_text.chars().filter(|c| !matches!(c, ' ' | ':' | '-' | '_')).collect();
    let cleaned = cleaned.strip_prefix("0x").unwrap_or(&cleaned);
    let payload = hex::decode(cleaned).with_context(|| format!("`{hex_text}` is not a hex payload"))?;
    let json = crate::gatt::decode_json(characteristic, &payload)
        .with_context(|| format!("{characteristic}: payload {} does not decode", hex::encode(&payload)))?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &json)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// The configuration of a session: file over defaults.
pub fn load_config(common_config: Option<&Path>) -> anyhow::Result<Config> {
    match common_config {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::default()),
    }
}

/// Validate a participant code: a pseudonym, never a name.
pub fn participant_code(common: &CommonArgs) -> anyhow::Result<Option<String>> {
    let Some(code) = &common.participant else { return Ok(None) };
    let ok =
        !code.is_empty() && code.len() <= 32 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        bail!(
            "--participant `{code}` is not a pseudonym code: use 1-32 letters, digits, `-` or `_` (e.g. P017), never a name"
        );
    }
    Ok(Some(code.clone()))
}
