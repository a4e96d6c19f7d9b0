//! The command line (DESIGN.md "Command line"), parsed with clap derive.
//!
//! Parsing only: each subcommand is carried out by [`crate::app`].

use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::clock::Speed;
use crate::excerpt::excerpt;

/// Longest `scan --timeout`: an hour. A scan is a look around the room;
/// longer is a mistyped value, and past ~10^19 s a `Duration` overflows.
pub const MAX_SCAN_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "Physiological session monitor for wearable Bluetooth LE sensors",
    long_about = "vigil connects to Bluetooth SIG heart-rate, thermometer, pulse-oximeter and blood-pressure \
                  sensors, raises clinical-style alarms (tachycardia, hyperthermia, sensor trouble), shows a live \
                  terminal dashboard and writes Arrow recordings for research.\n\n\
                  Try it without hardware: `vigil simulate`."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a simulated session (no hardware needed)
    Simulate(SimulateArgs),
    /// Monitor real sensors over Bluetooth LE, or a scripted NDJSON stream
    Monitor(MonitorArgs),
    /// Replay a recording through the decoders and alarm engine
    Replay(ReplayArgs),
    /// List nearby sensors that offer a supported health service
    Scan(ScanArgs),
    /// Decode one GATT payload and print it as JSON
    Decode(DecodeArgs),
    /// Summarise a recording
    Summary(SummaryArgs),
    /// Export recordings to CSV or Parquet (samples, events, beats, sessions) or BIDS
    Export(ExportArgs),
    /// Plot every quantity of a recording, its alarms, limits, markers and HRV to SVG
    Report(ReportArgs),
    /// Statistics, time in alarm and HRV of recordings, per window and device
    Analyze(AnalyzeArgs),
    /// Finalise an unfinished recording (after a crash)
    Recover(RecoverArgs),
    /// Print the default configuration (TOML)
    Config,
    /// Central station: every room's vitals and alarms from an MQTT 5 broker
    Central(CentralArgs),
}

/// Flags every session command takes.
#[derive(Debug, Clone, Args, Default)]
pub struct CommonArgs {
    /// Print JSON lines on stdout instead of showing the dashboard
    #[arg(long)]
    pub headless: bool,
    /// Configuration file (TOML; `vigil config` prints the defaults)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Participant pseudonym code (never a name)
    #[arg(long, value_name = "CODE")]
    pub participant: Option<String>,
    /// Directory that receives the session's recording directory
    #[arg(long, value_name = "DIR", default_value = "recordings", conflicts_with = "no_record")]
    pub record_dir: PathBuf,
    /// Do not record the session
    #[arg(long)]
    pub no_record: bool,
    /// Command that receives every alarm event as a JSON line on stdin, plus a heartbeat every 10 s
    #[arg(long, value_name = "CMD")]
    pub alarm_command: Option<String>,
    /// Continue a crashed or stopped session in a new segment of this recording
    #[arg(long, value_name = "RECORDING")]
    pub resume: Option<PathBuf>,
    /// Study protocol, recorded in session.json (letters, digits, `_`, `-`, `.`)
    #[arg(long, value_name = "P", value_parser = parse_protocol)]
    pub protocol: Option<String>,
    /// Visit of the protocol, recorded in session.json (letters, digits, `_`, `-`, `.`)
    #[arg(long, value_name = "V", value_parser = parse_visit)]
    pub visit: Option<String>,
    /// A note recorded in session.json (one line; repeat for several notes; never the participant's name)
    #[arg(long = "note", value_name = "TEXT", value_parser = parse_note)]
    pub notes: Vec<String>,
}

/// `--publish`: send this bedside's status, vitals, alarms and events to a
/// central station through an MQTT 5 broker (docs/mqtt.md).
#[derive(Debug, Clone, Args, Default)]
pub struct PublishArgs {
    /// Publish to this MQTT 5 broker: mqtt://HOST:PORT (this machine only) or mqtts://HOST:PORT
    #[arg(long, value_name = "mqtt[s]://HOST:PORT", value_parser = parse_broker, requires = "room")]
    pub publish: Option<crate::mqtt::connect::BrokerUrl>,
    /// Site name (the topic level above rooms)
    #[arg(long, value_name = "S", default_value = "default", value_parser = parse_site, requires = "publish")]
    pub site: String,
    /// This bedside's room name (required with --publish)
    #[arg(long, value_name = "R", value_parser = parse_room, requires = "publish")]
    pub room: Option<String>,
    /// Obey acknowledgements sent by a central station (otherwise they are recorded as refused)
    #[arg(long, requires = "publish")]
    pub allow_remote_ack: bool,
    /// MQTT keep-alive in seconds: the broker declares this bedside offline after 1.5 × this
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_keep_alive, requires = "publish")]
    pub mqtt_keep_alive: Duration,
    /// File whose first line is the broker password (user name from VIGIL_MQTT_USERNAME)
    #[arg(long, value_name = "FILE", requires = "publish")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA certificates to trust for mqtts:// (default: the system's)
    #[arg(long, value_name = "FILE", requires = "publish")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mqtts:// brokers that ask for one
    #[arg(long, value_name = "FILE", requires_all = ["publish", "client_key"])]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of --client-cert
    #[arg(long, value_name = "FILE", requires_all = ["publish", "client_cert"])]
    pub client_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Scenario name (from devices/simulated) or path to a scenario TOML file
    pub scenario: Option<String>,
    /// Speed of the virtual clock: a positive factor (0.25, 1, 60) or `max`
    #[arg(long, default_value = "1", value_parser = parse_speed)]
    pub speed: Speed,
    /// Random seed (default: the scenario's own)
    #[arg(long)]
    pub seed: Option<u64>,
    /// List the shipped scenarios and exit
    #[arg(long)]
    pub list: bool,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub publish: PublishArgs,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// A sensor to connect to: `[LABEL=]ADDRESS` or `[LABEL=]NAME` (repeatable)
    #[arg(long = "device", value_name = "[LABEL=]ADDR|NAME")]
    pub devices: Vec<String>,
    /// Read sensor events from an NDJSON stream: a file, `-` (stdin) or tcp://127.0.0.1:PORT
    #[arg(long, value_name = "FILE|-|tcp://127.0.0.1:PORT", conflicts_with = "devices")]
    pub stream: Option<String>,
    /// With --stream: let `at_ms` drive a virtual clock at this speed (number or `max`)
    #[arg(long, value_parser = parse_speed, requires = "stream")]
    pub speed: Option<Speed>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub publish: PublishArgs,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Recording directory
    pub recording: PathBuf,
    /// Replay speed: a positive factor or `max`
    #[arg(long, default_value = "1", value_parser = parse_speed)]
    pub speed: Speed,
    /// Print JSON lines instead of showing the dashboard
    #[arg(long)]
    pub headless: bool,
    /// Re-run the alarms with this configuration's limits
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub publish: PublishArgs,
}

#[derive(Debug, Args)]
pub struct CentralArgs {
    /// Broker to subscribe to (mqtt:// to loopback only, else mqtts://); without it an embedded broker runs
    #[arg(long, value_name = "URL")]
    pub broker: Option<crate::mqtt::connect::BrokerUrl>,
    /// Site whose rooms to follow (topic level `vigil/v1/SITE/…`)
    #[arg(long, value_name = "S", default_value = "default", value_parser = parse_site)]
    pub site: String,
    /// Also run N simulated bedsides (rooms room-1…room-N) through the broker
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64), conflicts_with = "broker")]
    pub demo: Option<u16>,
    /// Print JSON lines (room alarm transitions, room states) instead of the screen
    #[arg(long)]
    pub headless: bool,
    /// Command that receives every alarm line on stdin, plus a heartbeat every 10 s
    #[arg(long, value_name = "CMD")]
    pub alarm_command: Option<String>,
    /// This station's name: its MQTT client id and who acknowledged, at the bedside
    #[arg(long, value_name = "NAME", default_value = "central", value_parser = parse_station)]
    pub station: String,
    /// Port of the embedded broker (127.0.0.1) when no --broker is given
    #[arg(long, value_name = "P", default_value_t = crate::mqtt::broker::DEFAULT_PORT, conflicts_with = "broker")]
    pub port: u16,
    /// File whose first line is the broker password (else VIGIL_MQTT_PASSWORD); the user is VIGIL_MQTT_USERNAME
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the broker's certificate (mqtts://)
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate, for brokers that ask for one
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM key of --client-cert
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

fn parse_station(s: &str) -> Result<String, String> {
    crate::mqtt::topic::check_name("station", s).map(|()| s.to_owned())
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Seconds to scan (more than 0, at most 3600)
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_scan_timeout)]
    pub timeout: Duration,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Characteristic: 4 hex digits (2a37) or a full UUID
    pub characteristic: String,
    /// Payload as hex (spaces and colons allowed: "16 3c 11 04")
    #[arg(num_args = 1.., required = true)]
    pub hex: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    pub recording: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Re-run the alarms with this configuration's limits, as `vigil replay --config` does
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormatArg {
    Csv,
    Parquet,
    /// EDF+C of one recording (--out FILE.edf)
    Edf,
    /// A BIDS dataset: 1 Hz vitals as physiological recordings, events
    Bids,
}

/// `vigil export`: see `src/record/export/`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Recording directories; several make one Hive-partitioned tree per table (csv, parquet) or one dataset (bids)
    #[arg(num_args = 1.., required = true)]
    pub recordings: Vec<PathBuf>,
    #[arg(long, value_enum)]
    pub format: ExportFormatArg,
    /// A directory (created owner-only) for csv, parquet and bids; a file for edf
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Replace files that exist (bids: write into a directory that is not empty)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    pub recording: PathBuf,
    #[arg(long, value_name = "PATH.svg")]
    pub out: PathBuf,
}

/// `vigil analyze`: see `docs/analysis.md`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Recording directories; several make one table (a cohort)
    #[arg(num_args = 1.., required = true)]
    pub recordings: Vec<PathBuf>,
    /// all | every:5m | range:1h..2h | dose:-30m..4h | dose2:0m..1h | marker:TEXT:-10m..10m (repeatable)
    #[arg(long = "window", value_name = "SPEC")]
    pub windows: Vec<crate::analysis::windows::WindowSpec>,
    /// Re-run the alarms under this configuration's limits
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, default_value = "table")]
    pub format: crate::analyze::output::Format,
    /// Write to this file (created 0600) instead of stdout; required for parquet
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file
    #[arg(long)]
    pub force: bool,
    /// No progress on stderr
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    pub recording: PathBuf,
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    s.parse()
}

fn parse_broker(s: &str) -> Result<crate::mqtt::connect::BrokerUrl, String> {
    s.parse()
}

fn parse_site(s: &str) -> Result<String, String> {
    crate::mqtt::topic::check_name("site", s).map(|()| s.to_owned())
}

fn parse_protocol(s: &str) -> Result<String, String> {
    crate::record::validate_label("--protocol", s).map(|()| s.to_owned())
}

fn parse_visit(s: &str) -> Result<String, String> {
    crate::record::validate_label("--visit", s).map(|()| s.to_owned())
}

fn parse_note(s: &str) -> Result<String, String> {
    crate::record::validate_note(s).map(|()| s.to_owned())
}

fn parse_room(s: &str) -> Result<String, String> {
    crate::mqtt::topic::check_name("room", s).map(|()| s.to_owned())
}

/// Longest `--mqtt-keep-alive`: MQTT's keep-alive is 16 bits of seconds.
pub const MAX_KEEP_ALIVE_SECS: u64 = 65_535;

fn parse_keep_alive(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX_KEEP_ALIVE_SECS).contains(n))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{}` is not a keep-alive: give whole seconds, 1 to {MAX_KEEP_ALIVE_SECS}", excerpt(s)))
}

fn parse_scan_timeout(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|t| !t.is_zero() && *t <= MAX_SCAN_TIMEOUT)
        .ok_or_else(|| {
            format!(
                "`{}` is not a scan time: give seconds, more than 0 and at most {}",
                excerpt(s),
                MAX_SCAN_TIMEOUT.as_secs()
            )
        })
}

/// The command line of this process; a usage error exits as clap's do
/// (status 2), quoting the offending value cut short and escaped: clap
/// echoes it verbatim, 5,000 characters or terminal escapes included.
#[must_use]
pub fn parse() -> Cli {
    Cli::try_parse().unwrap_or_else(|e| tidy(e).exit())
}

/// A clap error whose quoted input is passed through [`excerpt`].
#[must_use]
pub fn tidy(mut error: clap::Error) -> clap::Error {
    let mut changed = false;
    for kind in [ContextKind::InvalidValue, ContextKind::InvalidArg, ContextKind::InvalidSubcommand] {
        if let Some(ContextValue::String(text)) = error.get(kind) {
            let shown = excerpt(text);
            changed |= shown != *text;
            error.insert(kind, ContextValue::String(shown));
        }
    }
    // Clap's tips ("to pass '--x' as a value, use '-- --x'") quote the
    // input again, whole.
    if changed {
        error.insert(ContextKind::Suggested, ContextValue::StyledStrs(Vec::new()));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn speed_and_flags_parse() {
        let cli =
            Cli::try_parse_from(["vigil", "simulate", "mdma-session", "--speed", "max", "--headless", "--no-record"])
                .unwrap();
        let Command::Simulate(a) = cli.command else { panic!("not simulate") };
        assert_eq!(a.speed, Speed::Max);
        assert!(a.common.headless && a.common.no_record);
        assert!(Cli::try_parse_from(["vigil", "simulate", "--speed", "0"]).is_err());
        assert!(Cli::try_parse_from(["vigil", "simulate", "--bogus"]).is_err());
        assert!(Cli::try_parse_from(["vigil", "monitor", "--speed", "2"]).is_err(), "--speed needs --stream");
    }

    #[test]
    fn scan_timeout_is_bounded_at_parse_time() {
        let cli = Cli::try_parse_from(["vigil", "scan", "--timeout", "2.5"]).unwrap();
        let Command::Scan(a) = cli.command else { panic!("not scan") };
        assert_eq!(a.timeout, Duration::from_millis(2500));
        for bad in ["0", "-1", "nan", "inf", "1e308", "3600.5", "soon"] {
            assert!(Cli::try_parse_from(["vigil", "scan", "--timeout", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn publish_flags_are_checked_at_parse_time() {
        let cli =
            Cli::try_parse_from(["vigil", "simulate", "--publish", "mqtt://127.0.0.1:1883", "--room", "r1"]).unwrap();
        let Command::Simulate(a) = cli.command else { panic!("not simulate") };
        assert_eq!(a.publish.room.as_deref(), Some("r1"));
        assert_eq!(a.publish.site, "default");
        assert_eq!(a.publish.mqtt_keep_alive, Duration::from_secs(5));
        let e = Cli::try_parse_from(["vigil", "monitor", "--publish", "mqtt://10.1.2.3:1883", "--room", "r1"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("mqtts://"), "{e}");
        assert!(
            Cli::try_parse_from(["vigil", "simulate", "--publish", "mqtt://127.0.0.1:1883"]).is_err(),
            "needs --room"
        );
        assert!(Cli::try_parse_from(["vigil", "simulate", "--room", "r1"]).is_err(), "--room needs --publish");
        for bad in [["--room", "a/b"], ["--site", "+"], ["--mqtt-keep-alive", "0"]] {
            let mut args = vec!["vigil", "replay", "rec", "--publish", "mqtt://127.0.0.1:1883", "--room", "r"];
            args.extend(bad);
            assert!(Cli::try_parse_from(&args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_usage_error_quotes_its_value_short_and_escaped() {
        let long = format!("\u{1b}[2J{}", "9".repeat(5000));
        let e = tidy(Cli::try_parse_from(["vigil", "simulate", "--speed", &long]).unwrap_err()).to_string();
        assert!(e.len() < 600 && !e.contains('\u{1b}'), "{e}");
    }
}
