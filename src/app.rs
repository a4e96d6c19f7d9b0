//! What each subcommand does: resolves the command line, configuration and
//! profiles into a [`SessionPlan`](crate::session::SessionPlan) or a
//! one-shot action.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{Cli, Command, CommonArgs, MonitorArgs, ScanArgs, SimulateArgs};
use crate::clock::Clock;
use crate::config::Config;
use crate::devices::DeviceProfile;
use crate::model::{Characteristic, DeviceLabel};
use crate::pipeline::DeviceSetup;
use crate::session::{self, SessionPlan, SourceFactory};
use crate::snapshot::Mode;
use crate::sources::{ble, simulate as sim, stream};

/// Run one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Decode(args) => decode(&args.characteristic, &args.hex.join("")),
        Command::Config => {
            std::io::stdout().lock().write_all(crate::config::default_toml().as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => simulate(&args),
        Command::Monitor(args) => monitor(&args),
        Command::Replay(_) => not_yet("replay", 5),
        Command::Scan(args) => scan(&args),
        Command::Summary(_) => not_yet("summary", 5),
        Command::Export(_) => not_yet("export", 5),
        Command::Report(_) => not_yet("report", 5),
        Command::Recover(_) => not_yet("recover", 5),
    }
}

fn not_yet(command: &str, issue: u32) -> anyhow::Result<ExitCode> {
    bail!("`vigil {command}` is not yet available in this build (issue {issue})")
}

/// `vigil simulate [SCENARIO]`: a scenario's GATT payloads on a virtual clock.
fn simulate(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        let mut out = std::io::stdout().lock();
        for (name, description) in sim::list() {
            writeln!(out, "{name:<22} {description}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let scenario = sim::load(args.scenario.as_deref().unwrap_or(sim::DEFAULT_SCENARIO))?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let devices = scenario.device_profiles().into_iter().map(|(label, p)| (label, device_setup(&p))).collect();
    let clock = Clock::virtual_at(args.speed, chrono::Utc::now());
    let source: SourceFactory = Box::new(move |tx, clock| {
        Box::pin(async move { sim::run(&scenario, seed, clock, tx).await.map_err(anyhow::Error::from) })
    });
    run_session(&args.common, clock, source, Mode::Simulated, devices)
}

/// `vigil monitor`: real sensors (`--device`) or a scripted stream.
fn monitor(args: &MonitorArgs) -> anyhow::Result<ExitCode> {
    let Some(input) = &args.stream else {
        if args.devices.is_empty() {
            bail!(
                "`vigil monitor` needs --device ADDR|NAME (see `vigil scan`) or --stream FILE|-|tcp://127.0.0.1:PORT"
            );
        }
        let devices = args.devices.iter().map(|d| d.parse::<ble::DeviceSpec>()).collect::<Result<Vec<_>, _>>()?;
        let source: SourceFactory = Box::new(move |tx, clock| {
            Box::pin(async move { ble::run(devices, clock, tx).await.map_err(anyhow::Error::from) })
        });
        return run_session(&args.common, Clock::real(), source, Mode::Live, Vec::new());
    };
    let input: stream::StreamInput = input.parse()?;
    let paced = args.speed;
    let clock = match paced {
        Some(speed) => Clock::virtual_at(speed, chrono::Utc::now()),
        None => Clock::real(),
    };
    let source: SourceFactory = Box::new(move |tx, clock| {
        Box::pin(async move { stream::run(input, clock, paced, tx).await.map(|_| ()).map_err(anyhow::Error::from) })
    });
    run_session(&args.common, clock, source, Mode::Live, Vec::new())
}

/// `vigil scan`: nearby devices that advertise a supported service.
fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let timeout = std::time::Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .with_context(|| format!("--timeout {}: give a positive number of seconds", args.timeout))?;
    let entries = runtime()?.block_on(ble::scan(timeout))?;
    ble::print_scan(&entries, args.json, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// How the pipeline treats a device of this profile.
#[must_use]
pub fn device_setup(profile: &DeviceProfile) -> DeviceSetup {
    DeviceSetup {
        timing: crate::alarms::DeviceTiming {
            expected_interval: profile.expected_interval,
            intermittent: profile.intermittent,
        },
        env_quantity: profile.env_temperature.quantity(),
    }
}

/// Run a session to its end with the common flags resolved.
fn run_session(
    common: &CommonArgs,
    clock: Clock,
    source: SourceFactory,
    mode: Mode,
    devices: Vec<(DeviceLabel, DeviceSetup)>,
) -> anyhow::Result<ExitCode> {
    let config = load_config(common.config.as_deref())?;
    let participant = participant_code(common)?;
    if common.resume.is_some() {
        return not_yet("--resume", 5);
    }
    if !common.headless {
        bail!("the live dashboard is not in this build yet (issue 6): add --headless for JSON lines");
    }
    let _log_guard = init_logging();
    let plan = SessionPlan {
        clock,
        source,
        mode,
        config,
        participant,
        devices,
        dashboard: None,
        alarm_command: common.alarm_command.clone(),
        replay_control: None,
        headless_out: None,
    };
    let outcome = runtime()?.block_on(session::run(plan))?;
    tracing::info!(?outcome, "session ended");
    Ok(ExitCode::SUCCESS)
}

/// `vigil decode CHARACTERISTIC HEX`: one payload to one JSON object.
fn decode(characteristic: &str, hex_text: &str) -> anyhow::Result<ExitCode> {
    let characteristic = Characteristic::parse(characteristic)?;
    let cleaned: String = hex_text.chars().filter(|c| !matches!(c, ' ' | ':' | '-' | '_')).collect();
    let cleaned = cleaned.strip_prefix("0x").unwrap_or(&cleaned);
    let payload = hex::decode(cleaned).with_context(|| format!("`{hex_text}` is not a hex payload"))?;
    let json = crate::gatt::decode_json(characteristic, &payload)
        .with_context(|| format!("payload {} does not decode", hex::encode(&payload)))?;
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

/// Send `tracing` logs to a file, never to the terminal the dashboard owns.
///
/// The file is `$VIGIL_LOG` or `$XDG_STATE_HOME/vigil/vigil.log` (else
/// `~/.local/state/vigil/vigil.log`); the level comes from `RUST_LOG`
/// (default `info`). The returned guard flushes the non-blocking writer and
/// must live as long as the session. Logging is best effort: a log file
/// that cannot be opened never stops monitoring.
pub fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::EnvFilter;
    let path = std::env::var_os("VIGIL_LOG").map(std::path::PathBuf::from).or_else(|| {
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
        Some(state.join("vigil").join("vigil.log"))
    })?;
    let dir = path.parent()?;
    std::fs::create_dir_all(dir).ok()?;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}

/// The async runtime of a session: two workers (the pipeline and the
/// dashboard/sources), plus the recorder's and stdout writer's own threads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vigil")
        .enable_all()
        .build()
        .context("cannot start the async runtime")
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
