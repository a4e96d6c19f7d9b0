//! What each subcommand does: resolves the command line, configuration and
//! profiles into a [`SessionPlan`](crate::session::SessionPlan) or a
//! one-shot action.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::{
    Cli, Command, CommonArgs, ExportFormatArg, MonitorArgs, PublishArgs, ReplayArgs, ScanArgs, SimulateArgs,
};
use crate::clock::{Clock, Speed};
use crate::config::Config;
use crate::devices::DeviceProfile;
use crate::devices::DeviceSetup;
use crate::model::{Characteristic, DeviceLabel};
use crate::mqtt::publish::PublishOptions;
use crate::record::{self, FileKind, RecordOptions, Recording};
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
        Command::Central(args) => {
            let _log_guard = init_logging();
            crate::central::run(&args)
        }
        Command::Simulate(args) => simulate(&args),
        Command::Monitor(args) => monitor(&args),
        Command::Replay(args) => replay(&args),
        Command::Scan(args) => scan(&args),
        Command::Summary(args) => summary(&args.recording, args.json, args.config.as_deref()),
        Command::Export(args) => {
            let format = match args.format {
                ExportFormatArg::Csv => record::ExportFormat::Csv,
                ExportFormatArg::Parquet => record::ExportFormat::Parquet,
                ExportFormatArg::Edf => record::ExportFormat::Edf,
                ExportFormatArg::Bids => record::ExportFormat::Bids,
            };
            let written = record::export(&args.recordings, format, &args.out, args.force)?;
            let mut err = std::io::stderr().lock();
            for path in written {
                writeln!(err, "wrote {}", path.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Report(args) => {
            record::report(&args.recording, &args.out)?;
            let mut err = std::io::stderr().lock();
            for damage in Recording::open(&args.recording)?.damage()? {
                writeln!(err, "note: {damage}; the report covers what was read")?;
            }
            writeln!(err, "wrote {}", args.out.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze(args) => analyze(&args),
        Command::Recover(args) => {
            let report = record::recover(&args.recording)?;
            writeln!(std::io::stderr().lock(), "{report}")?;
            // A missing file is not recovered: say so in the exit status.
            Ok(if report.missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// `vigil analyze`: rows of every recording and window, with progress on
/// a terminal's stderr and notes for windows a recording could not make.
fn analyze(args: &crate::cli::AnalyzeArgs) -> anyhow::Result<ExitCode> {
    use crate::analyze::output::{self, Format};
    use std::os::unix::fs::OpenOptionsExt;

    if args.format == Format::Parquet && args.out.is_none() {
        bail!("--format parquet writes a binary file: give --out PATH");
    }
    let rerun: Option<crate::analyze::Rerun> = match &args.config {
        Some(path) => {
            let config = Config::load(path)?;
            Some(Box::new(move |r: &Recording| rerun_alarms(r, &config)))
        }
        None => None,
    };
    let request = crate::analyze::Request { recordings: args.recordings.clone(), windows: args.windows.clone(), rerun };
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(args.recordings.len() as u64)
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template("analyzing {pos}/{len} [{bar:30}] {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    let (rows, skipped) = crate::analyze::analyze(&request, |done| {
        bar.set_message(done.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    for note in output::skipped_notes(&skipped) {
        eprintln!("{note}");
    }
    match &args.out {
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .create_new(!args.force)
                .truncate(true)
                .mode(record::FILE_MODE)
                .open(path)
                .with_context(|| match path.exists() {
                    true if !args.force => format!("{} exists: give --force to replace it", path.display()),
                    _ => format!("cannot create {}", path.display()),
                })?;
            output::write(&rows, args.format, &mut file).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {} rows to {}", rows.len(), path.display());
        }
        None => output::write(&rows, args.format, &mut std::io::stdout().lock())?,
    }
    Ok(ExitCode::SUCCESS)
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
    let about = record::SessionAbout {
        scenario: Some((scenario.name.clone(), seed)),
        profiles: scenario.device_profiles().into_iter().map(|(label, p)| (label.to_string(), p.id)).collect(),
        ..record::SessionAbout::default()
    };
    let devices = scenario.device_profiles().into_iter().map(|(label, p)| (label, device_setup(&p))).collect();
    let clock = Clock::virtual_at(args.speed, crate::clock::start_now());
    let source: SourceFactory = Box::new(move |tx, clock, _devices| {
        session::ends_on_close(tx.clone(), async move {
            sim::run(&scenario, seed, clock, tx).await.map_err(anyhow::Error::from)
        })
    });
    run_session(&args.common, &args.publish, clock, |_| source, Mode::Simulated, devices, about)
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
        // The supervisors' staleness watchdog uses the session's
        // `[alarms.tech_stale]`, known once the configuration is resolved.
        let source = move |config: &Config| -> SourceFactory {
            let stale_config = config.alarms.tech_stale.clone();
            Box::new(move |tx, clock, _devices| {
                Box::pin(async move { ble::run(devices, stale_config, clock, tx).await.map_err(anyhow::Error::from) })
            })
        };
        let about = record::SessionAbout::default();
        return run_session(&args.common, &args.publish, Clock::real(), source, Mode::Live, Vec::new(), about);
    };
    let input: stream::StreamInput = input.parse()?;
    let paced = args.speed;
    let clock = match paced {
        Some(speed) => Clock::virtual_at(speed, crate::clock::start_now()),
        None => Clock::real(),
    };
    let source: SourceFactory = if let stream::StreamInput::Tcp(addr) = input {
        // Bound here, before any screen is up: the sender must learn the
        // port (`tcp://127.0.0.1:0` lets the system pick one).
        let listener = stream::bind_std(addr)?;
        let bound = listener.local_addr().with_context(|| format!("cannot listen on {addr}"))?;
        writeln!(std::io::stderr().lock(), "vigil: listening on tcp://{bound}")?;
        Box::new(move |tx, clock, devices| {
            session::ends_on_close(tx.clone(), async move {
                stream::serve_std(listener, clock, paced, tx, devices).await.map(|_| ()).map_err(anyhow::Error::from)
            })
        })
    } else {
        Box::new(move |tx, clock, devices| {
            session::ends_on_close(tx.clone(), async move {
                stream::run(input, clock, paced, tx, devices).await.map(|_| ()).map_err(anyhow::Error::from)
            })
        })
    };
    run_session(&args.common, &args.publish, clock, |_| source, Mode::Live, Vec::new(), record::SessionAbout::default())
}

/// `vigil scan`: nearby devices that advertise a supported service.
fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let entries = runtime()?.block_on(ble::scan(args.timeout))?;
    ble::print_scan(&entries, args.json, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

/// How the pipeline treats a device of this profile.
#[must_use]
pub fn device_setup(profile: &DeviceProfile) -> DeviceSetup {
    profile.setup()
}

/// Run a session to its end with the common flags resolved; `source` is
/// made with the session's configuration; `about` (the scenario, declared
/// profiles) gets the common flags' protocol, visit and notes.
fn run_session(
    common: &CommonArgs,
    publish: &PublishArgs,
    clock: Clock,
    source: impl FnOnce(&Config) -> SourceFactory,
    mode: Mode,
    devices: Vec<(DeviceLabel, DeviceSetup)>,
    about: record::SessionAbout,
) -> anyhow::Result<ExitCode> {
    let mut participant = participant_code(common)?;
    let publish = publish_options(publish)?;
    let resume = match &common.resume {
        Some(dir) => Some(open_resume(common, dir, participant.as_deref())?),
        None => None,
    };
    let config = match (&resume, &common.config) {
        // A resumed session keeps the limits it was started with (limit
        // changes made since are restored from the recording), unless a
        // configuration file is given again.
        (Some(r), None) => resumed_config(&r.recording)?,
        (_, path) => load_config(path.as_deref())?,
    };
    if let Some(r) = &resume
        && participant.is_none()
    {
        participant.clone_from(&r.recording.meta.participant);
    }
    let record = (!common.no_record).then(|| RecordOptions {
        root: common.record_dir.clone(),
        participant: participant.clone(),
        resume: common.resume.clone(),
        about: record::SessionAbout {
            protocol: common.protocol.clone(),
            visit: common.visit.clone(),
            notes: common.notes.clone(),
            ..about
        },
    });
    let _log_guard = init_logging();
    let plan = SessionPlan {
        clock,
        source: source(&config),
        mode,
        config,
        participant,
        devices,
        dashboard: (!common.headless).then(|| dashboard(false)),
        alarm_command: common.alarm_command.clone(),
        replay_control: None,
        headless_out: None,
        record,
        resume,
        publish,
    };
    finish_session(&run_plan(plan)?)
}

/// `--publish` and its flags, with the login read from the environment or
/// `--password-file`; `None` without `--publish`.
fn publish_options(args: &PublishArgs) -> anyhow::Result<Option<PublishOptions>> {
    let (Some(url), Some(room)) = (&args.publish, &args.room) else { return Ok(None) };
    let mut security = crate::mqtt::connect::Security::from_env(args.password_file.as_deref())?;
    security.ca_file.clone_from(&args.ca_file);
    security.client_cert.clone_from(&args.client_cert);
    security.client_key.clone_from(&args.client_key);
    // Checked now, so a bad CA file is an error before the session starts.
    crate::mqtt::connect::options(url, "vigil-check", args.mqtt_keep_alive, &security)?;
    let mut opts = PublishOptions::new(url.clone(), &args.site, room);
    opts.allow_remote_ack = args.allow_remote_ack;
    opts.keep_alive = args.mqtt_keep_alive;
    opts.security = security;
    Ok(Some(opts))
}

/// `--resume DIR`: the recording to continue, checked before anything runs.
fn open_resume(common: &CommonArgs, dir: &Path, participant: Option<&str>) -> anyhow::Result<session::Resume> {
    if common.no_record {
        bail!(
            "--resume {} continues that recording in a new segment; it cannot be combined with --no-record",
            dir.display()
        );
    }
    session::Resume::open(dir, participant).with_context(|| format!("cannot resume {}", dir.display()))
}

/// The configuration a resumed session continues with: its last segment's.
fn resumed_config(recording: &Recording) -> anyhow::Result<Config> {
    let dir = recording.dir.display();
    let value =
        recording.meta.segments.last().map(|s| &s.config).filter(|c| !c.is_null()).unwrap_or(&recording.meta.config);
    let config: Config = serde_json::from_value(value.clone()).with_context(|| {
        format!("{dir}/session.json: the recorded configuration does not load; pass --config to resume with another")
    })?;
    config.validate().map_err(|e| {
        anyhow::anyhow!("{dir}/session.json: recorded configuration: {e}; pass --config to resume with another")
    })?;
    Ok(config)
}

/// The live dashboard as a session task.
///
/// It runs on a thread of its own with a single-threaded runtime: the
/// terminal handle is not `Send`, and drawing must never take a worker the
/// pipeline needs. The session awaits its end through a oneshot.
fn dashboard(replay: bool) -> session::DashboardFactory {
    let opts = crate::dashboard::DashboardOptions {
        no_color: crate::dashboard::DashboardOptions::no_color_from_env(),
        replay,
    };
    Box::new(move |snapshots, commands| {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new().name("vigil-dashboard".into()).spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|rt| {
                    rt.block_on(crate::dashboard::run(snapshots, commands, opts)).map_err(anyhow::Error::from)
                });
            let _ = done_tx.send(result);
        });
        Box::pin(async move {
            thread.context("cannot start the dashboard thread")?;
            done_rx.await.unwrap_or_else(|_| Err(anyhow::anyhow!("the dashboard stopped unexpectedly")))
        })
    })
}

/// Run a session on its own runtime. The runtime is shut down with a
/// timeout: a source blocked reading stdin must not keep vigil alive after
/// the session (and its recording) has finished.
fn run_plan(plan: SessionPlan) -> anyhow::Result<session::SessionOutcome> {
    let rt = runtime()?;
    // On `block_on`'s own thread, not spawned on a worker: at `--speed
    // max` the source then runs on a worker beside it instead of sharing
    // one.
    let outcome = rt.block_on(session::run(plan));
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    outcome
}

/// Say where the recording went (on stderr: stdout carries JSON lines).
fn finish_session(outcome: &session::SessionOutcome) -> anyhow::Result<ExitCode> {
    tracing::info!(?outcome, "session ended");
    if let Some(dir) = &outcome.recording {
        writeln!(std::io::stderr().lock(), "vigil: recording in {}", dir.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `vigil replay RECORDING`: the recorded notifications and operator
/// actions through the same decoders and alarm engine, with the recording's
/// own configuration unless `--config` gives other limits.
fn replay(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let recording = Recording::open(&args.recording)?;
    // What replay reads: the notifications and the operator's actions.
    for damage in recording.damage_in(&[FileKind::Notifications, FileKind::Events])? {
        eprintln!("vigil: note: {damage}; the replay covers what was read");
    }
    let config = match &args.config {
        Some(path) => Config::load(path)?,
        None => recorded_config(&recording)?,
    };
    let _log_guard = init_logging();
    let mut plan = replay_plan(recording, config, args.speed);
    plan.dashboard = (!args.headless).then(|| dashboard(true));
    plan.publish = publish_options(&args.publish)?;
    finish_session(&run_plan(plan)?)
}

/// `vigil summary RECORDING [--json] [--config F]`.
fn summary(dir: &Path, json: bool, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let Some(path) = config else {
        record::summary(dir, json, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    };
    let config = Config::load(path)?;
    let recording = Recording::open(dir)?;
    let rerun = record::Rerun {
        file: path.to_owned(),
        config: serde_json::to_value(&config)?,
        alarms: rerun_alarms(&recording, &config)?,
    };
    record::Summary::with_rerun(&recording, &rerun)?.write(json, &mut out)?;
    Ok(ExitCode::SUCCESS)
}

/// The alarm events a recording makes under `config`'s alarm limits: its
/// notifications and operator actions through a pipeline, synchronously,
/// with its devices set up as [`replay_plan`] sets them up (what
/// `vigil replay --config` shows, without pacing, output or recording).
pub fn rerun_alarms(recording: &Recording, config: &Config) -> anyhow::Result<Vec<crate::model::AlarmEvent>> {
    let table = crate::device_table::DeviceTable::new(config.session.max_devices);
    let mut pipeline =
        crate::pipeline::Pipeline::new(crate::alarms::AlarmEngine::with_devices(config.alarms.clone(), table));
    for (label, setup) in replay_devices(recording) {
        pipeline.set_device(&label, setup);
    }
    let (mut samples, mut output) = (Vec::new(), Vec::new());
    let mut alarms = Vec::new();
    for batch in crate::sources::replay::batches(recording)? {
        pipeline.process(&batch.events, batch.until, &mut samples, &mut output);
        alarms.extend(output.drain(..).filter_map(|e| match e {
            crate::model::OutputEvent::Alarm(a) => Some(a),
            _ => None,
        }));
        samples.clear();
    }
    Ok(alarms)
}

/// A recording's devices set up by the profile it recorded for them
/// (format 3), else by the profile their recorded names match.
fn replay_devices(recording: &Recording) -> Vec<(DeviceLabel, DeviceSetup)> {
    recording
        .meta
        .devices
        .iter()
        .filter_map(|(label, d)| {
            let profile = d
                .profile
                .as_deref()
                .and_then(crate::devices::profile)
                .or_else(|| d.name.as_deref().and_then(crate::devices::match_by_name))?;
            Some((DeviceLabel::from(label.as_str()), device_setup(&profile)))
        })
        .collect()
}

/// The session `vigil replay` runs: the recording's notifications and
/// operator actions through the pipeline with `config`, its devices set up
/// from their recorded profiles, headless on stdout (the caller may
/// add a dashboard or redirect the output) and not recorded.
#[must_use]
pub fn replay_plan(recording: Recording, config: Config, speed: Speed) -> SessionPlan {
    let devices = replay_devices(&recording);
    let clock = Clock::virtual_at(speed, recording.meta.start_utc);
    let (control_tx, control_rx) = tokio::sync::mpsc::channel(session::REPLAY_CONTROL_CAPACITY);
    let source: SourceFactory = Box::new(move |tx, clock, _devices| {
        session::ends_on_close(tx.clone(), async move {
            crate::sources::replay::run(&recording, clock, tx, control_rx)
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        })
    });
    SessionPlan {
        clock,
        source,
        mode: crate::sources::replay::initial_mode(speed),
        config,
        participant: None,
        devices,
        dashboard: None,
        alarm_command: None,
        replay_control: Some(control_tx),
        headless_out: None,
        record: None,
        resume: None,
        publish: None,
    }
}

/// The configuration a recording was made with (`session.json`), so a
/// replay re-runs the same limits unless told otherwise.
fn recorded_config(recording: &Recording) -> anyhow::Result<Config> {
    let dir = recording.dir.display();
    let config: Config = serde_json::from_value(recording.meta.config.clone())
        .with_context(|| format!("{dir}/session.json: the recorded configuration does not load; pass --config"))?;
    config.validate().map_err(|e| anyhow::anyhow!("{dir}/session.json: recorded configuration: {e}; pass --config"))?;
    Ok(config)
}

/// `vigil decode CHARACTERISTIC HEX`: one payload to one JSON object.
fn decode(characteristic: &str, hex_text: &str) -> anyhow::Result<ExitCode> {
    let characteristic = Characteristic::parse(characteristic)?;
    let cleaned: String = hex_text.chars().filter(|c| !matches!(c, ' ' | ':' | '-' | '_')).collect();
    let cleaned = cleaned.strip_prefix("0x").unwrap_or(&cleaned);
    let payload = hex::decode(cleaned)
        .with_context(|| format!("`{}` is not a hex payload", crate::excerpt::excerpt(hex_text)))?;
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
    let file = open_log(&path).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_writer(writer).with_ansi(false).with_env_filter(filter).try_init().ok()?;
    Some(guard)
}

/// The log file, owner-only (logs name devices and alarms: health data):
/// directories made 0700 and the file 0600 whatever the umask, and a log
/// file an older vigil left more open is closed up. Special files
/// (`VIGIL_LOG=/dev/null`) are used as they are.
fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(crate::record::DIR_MODE).create(dir)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).mode(crate::record::FILE_MODE).open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(crate::record::FILE_MODE))?;
    }
    Ok(file)
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
    record::validate_participant(code)?;
    Ok(Some(code.clone()))
}
