//! Bluetooth LE source: the chosen sensors, over BlueZ (btleplug).
//!
//! ```text
//!  run(devices) ─┬─ task: supervise(chest)  ─┐  Report        stamp with clock.now()
//!                ├─ task: supervise(thermo) ─┼─ (bounded) ──▶ (receive order = time order) ──▶ Batch
//!                └─ …                       ─┘
//! ```
//!
//! - [`supervisor`]: reconnect with backoff and the staleness watchdog, over
//!   a small [`supervisor::Link`] trait (tested on a fake link).
//! - `bluez`: the btleplug implementation of that link, adapter checks and
//!   the mapping of BlueZ/D-Bus failures to [`BleError`]s a user can act on.
//!
//! vigil never connects to a device nobody chose: `run` takes the list of
//! [`DeviceSpec`]s and matches each by exact address or exact name.

mod bluez;
pub mod supervisor;

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::clock::Clock;
use crate::config::TechStale;
use crate::model::{Batch, DeviceLabel, SessionTime, SourceEvent};

use supervisor::Report;

/// Services `scan` lists a device for (and the ones vigil reads).
pub const SUPPORTED_SERVICES: [u16; 5] = [0x180D, 0x1809, 0x181A, 0x1810, 0x1822];

/// Characteristics vigil subscribes to wherever a device has them.
pub const SUBSCRIBED_CHARACTERISTICS: [u16; 7] = [0x2A37, 0x2A1C, 0x2A1E, 0x2A6E, 0x2A35, 0x2A5F, 0x2A19];

/// Device reports waiting to be stamped. Stamping is immediate, so this only
/// absorbs bursts (a connection's announcement, several devices at once).
const REPORT_CAPACITY: usize = 256;
/// Reports stamped into one batch at most, so one busy device cannot hold
/// the others' events back.
const MAX_BATCH: usize = 64;

/// Failures that stop BLE from starting, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum BleError {
    #[error("cannot reach the system D-Bus ({detail}); start it (`sudo systemctl start dbus`) and try again")]
    NoDbus { detail: String },
    #[error("BlueZ is not running ({detail}); start it with `sudo systemctl start bluetooth` and try again")]
    NoBluez { detail: String },
    #[error("no Bluetooth adapter found; plug one in or unblock it (`rfkill unblock bluetooth`) and try again")]
    NoAdapter,
    #[error("Bluetooth adapter `{wanted}` (from {ADAPTER_ENV}) not found; set {ADAPTER_ENV} to one of: {present}")]
    AdapterNotFound { wanted: String, present: String },
    #[error("Bluetooth adapter {adapter} is powered off; turn it on (`bluetoothctl power on`) and try again")]
    PoweredOff { adapter: String },
    #[error(
        "permission denied talking to BlueZ ({detail}); run vigil as a user allowed to use Bluetooth (the `bluetooth` group) or as root"
    )]
    PermissionDenied { detail: String },
    #[error("device label `{label}` is given twice; give each --device its own LABEL=")]
    DuplicateLabel { label: String },
    #[error("Bluetooth failed while {context}: {detail}")]
    Bluetooth { context: &'static str, detail: String },
}

/// Environment variable naming the adapter to use (`hci0`); by default the
/// first adapter by name.
pub const ADAPTER_ENV: &str = "VIGIL_BLE_ADAPTER";

/// How a chosen device is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `AA:BB:CC:DD:EE:FF`, upper case.
    Address(String),
    /// The exact advertised name.
    Name(String),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Address(a) | Selector::Name(a) => f.write_str(a),
        }
    }
}

/// One `--device [LABEL=]ADDR|NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    pub label: DeviceLabel,
    pub selector: Selector,
    /// The device profile's notification interval, where known; otherwise the
    /// staleness watchdog learns it (`[alarms.tech_stale] default_interval_s`
    /// until known).
    pub expected_interval: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDeviceError {
    #[error("--device `{0}`: give an address (AA:BB:CC:DD:EE:FF) or a name, optionally as LABEL=ADDR|NAME")]
    Empty(String),
    #[error("--device `{0}`: a label may use only letters, digits, `-`, `_` and `.`")]
    BadLabel(String),
}

impl FromStr for DeviceSpec {
    type Err = ParseDeviceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (label, target) = match s.split_once('=') {
            Some((label, target)) => (Some(label.trim()), target.trim()),
            None => (None, s.trim()),
        };
        if target.is_empty() {
            return Err(ParseDeviceError::Empty(crate::excerpt::excerpt(s)));
        }
        let selector = match parse_address(target) {
            Some(address) => Selector::Address(address),
            None => Selector::Name(target.to_owned()),
        };
        let label = match label {
            Some(l) if !l.is_empty() && l.chars().all(is_label_char) => l.to_owned(),
            Some(_) => return Err(ParseDeviceError::BadLabel(crate::excerpt::excerpt(s))),
            None => sanitise_label(target),
        };
        if label.is_empty() {
            return Err(ParseDeviceError::BadLabel(crate::excerpt::excerpt(s)));
        }
        Ok(DeviceSpec { label: label.into(), selector, expected_interval: None })
    }
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// `Polar H10 1234` → `polar-h10-1234`; `A0:9E:1A:00:00:01` → `a0-9e-1a-00-00-01`.
fn sanitise_label(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// `aa:bb:cc:dd:ee:ff` or `AA-BB-…` → `AA:BB:CC:DD:EE:FF`.
fn parse_address(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    let ok = parts.len() == 6 && parts.iter().all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    ok.then(|| parts.join(":").to_ascii_uppercase())
}

/// One device a scan saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanEntry {
    pub name: Option<String>,
    pub address: String,
    pub rssi: Option<i16>,
    /// Supported services it advertises, as `0x180D`.
    #[serde(serialize_with = "serialize_services")]
    pub services: Vec<u16>,
}

fn serialize_services<S: serde::Serializer>(services: &[u16], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(services.iter().map(|u| format!("0x{u:04X}")))
}

/// Scan for `timeout` and list the devices that advertise a supported
/// service, strongest signal first.
pub async fn scan(timeout: Duration) -> Result<Vec<ScanEntry>, BleError> {
    let adapter = bluez::open_adapter().await?;
    bluez::scan(&adapter, timeout).await
}

/// The scan as a table, or as one JSON object per line.
pub fn print_scan(entries: &[ScanEntry], json: bool, out: &mut dyn Write) -> io::Result<()> {
    if json {
        for e in entries {
            serde_json::to_writer(&mut *out, e)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    if entries.is_empty() {
        writeln!(
            out,
            "No device advertising a supported service (heart rate, thermometer, environmental, blood pressure, pulse oximeter) was found."
        )?;
        return Ok(());
    }
    writeln!(out, "{:<17}  {:>4}  {:<24}  SERVICES", "ADDRESS", "RSSI", "NAME")?;
    for e in entries {
        let rssi = e.rssi.map_or_else(|| "-".to_owned(), |r| r.to_string());
        let services: Vec<String> = e.services.iter().map(|s| service_name(*s).to_owned()).collect();
        writeln!(
            out,
            "{:<17}  {:>4}  {:<24}  {}",
            e.address,
            rssi,
            e.name.as_deref().unwrap_or("-"),
            services.join(", ")
        )?;
    }
    Ok(())
}

fn service_name(short: u16) -> &'static str {
    match short {
        0x180D => "heart rate",
        0x1809 => "thermometer",
        0x181A => "environmental",
        0x1810 => "blood pressure",
        0x1822 => "pulse oximeter",
        _ => "other",
    }
}

/// Connect to the chosen devices (never any other), each supervised by its
/// own task, and send their events as batches stamped with `clock.now()`
/// (receive time). Runs until cancelled (the session aborts it) or until
/// `tx` closes.
///
/// Fails at once, with what to do, when Bluetooth is unusable (no D-Bus, no
/// BlueZ, no adapter, adapter off, permission denied); after that a device
/// that cannot be reached is a `Disconnected` event and a retry, never an
/// error.
///
/// `stale_config` is the session's `[alarms.tech_stale]`: a supervisor
/// releases a silent device by the same limit that raises `tech.stale`.
pub async fn run(
    devices: Vec<DeviceSpec>,
    stale_config: TechStale,
    clock: Clock,
    tx: mpsc::Sender<Batch>,
) -> Result<(), BleError> {
    let mut seen = std::collections::HashSet::new();
    for d in &devices {
        if !seen.insert(d.label.clone()) {
            return Err(BleError::DuplicateLabel { label: d.label.to_string() });
        }
    }
    if devices.is_empty() {
        return Ok(());
    }
    let adapter = bluez::open_adapter().await?;
    let (report_tx, report_rx) = mpsc::channel(REPORT_CAPACITY);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for spec in devices {
        let mut link = bluez::BtleLink::new(adapter.clone(), spec.selector.clone());
        let out = report_tx.clone();
        let stale_config = stale_config.clone();
        let shutdown_rx = shutdown_rx.clone();
        tasks.spawn(async move {
            supervisor::supervise(spec.label, &mut link, spec.expected_interval, stale_config, out, shutdown_rx).await;
        });
    }
    drop(report_tx);
    // The session closes `tx` when it ends and gives the source
    // `session::SOURCE_STOP_WAIT` to stop: time for each supervisor to
    // write its device's stop commands. `tasks` lives as long as this
    // future, so an abort still ends them all.
    tokio::select! {
        () = stamp_and_forward(report_rx, &clock, &tx) => {}
        () = tx.closed() => {}
    }
    let _ = shutdown.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Stamp reports with the receive time and forward them as batches. One
/// stamping point for all devices keeps the batches in time order.
async fn stamp_and_forward(mut reports: mpsc::Receiver<Report>, clock: &Clock, tx: &mpsc::Sender<Batch>) {
    let mut last = SessionTime::ZERO;
    while let Some(first) = reports.recv().await {
        let mut events = Vec::with_capacity(4);
        let mut next = Some(first);
        while let Some(r) = next.take() {
            // A real clock always has a `now`; keep time monotonic regardless.
            last = clock.now().unwrap_or(last).max(last);
            events.push(SourceEvent { at: last, device: Some(r.device), body: r.body });
            if events.len() < MAX_BATCH {
                next = reports.try_recv().ok();
            }
        }
        if tx.send(Batch { events, until: last }).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Characteristic, EventBody, Payload};

    #[test]
    fn device_spec_parses_address_name_and_label() {
        let d: DeviceSpec = "chest=a0:9e:1a:00:00:01".parse().unwrap();
        assert_eq!(&*d.label, "chest");
        assert_eq!(d.selector, Selector::Address("A0:9E:1A:00:00:01".into()));

        let d: DeviceSpec = "A0-9E-1A-00-00-01".parse().unwrap();
        assert_eq!(&*d.label, "a0-9e-1a-00-00-01");
        assert_eq!(d.selector, Selector::Address("A0:9E:1A:00:00:01".into()));

        let d: DeviceSpec = "Polar H10 1234".parse().unwrap();
        assert_eq!(&*d.label, "polar-h10-1234");
        assert_eq!(d.selector, Selector::Name("Polar H10 1234".into()));

        let d: DeviceSpec = "thermo=Thermo (2)".parse().unwrap();
        assert_eq!(&*d.label, "thermo");
        assert_eq!(d.selector, Selector::Name("Thermo (2)".into()));

        // Not an address: five groups, or a non-hex digit.
        let d: DeviceSpec = "A0:9E:1A:00:01".parse().unwrap();
        assert_eq!(d.selector, Selector::Name("A0:9E:1A:00:01".into()));
        let d: DeviceSpec = "G0:9E:1A:00:00:01".parse().unwrap();
        assert!(matches!(d.selector, Selector::Name(_)));
    }

    #[test]
    fn device_spec_rejects_empty_parts_and_bad_labels() {
        assert!(matches!("".parse::<DeviceSpec>(), Err(ParseDeviceError::Empty(_))));
        assert!(matches!("chest=".parse::<DeviceSpec>(), Err(ParseDeviceError::Empty(_))));
        assert!(matches!("=Polar".parse::<DeviceSpec>(), Err(ParseDeviceError::BadLabel(_))));
        assert!(matches!("my chest=Polar".parse::<DeviceSpec>(), Err(ParseDeviceError::BadLabel(_))));
        assert!(matches!("---".parse::<DeviceSpec>(), Err(ParseDeviceError::BadLabel(_))));
        let msg = "chest=".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(msg.contains("chest="), "{msg}");
    }

    #[test]
    fn scan_prints_json_lines_and_a_table() {
        let entries = vec![
            ScanEntry {
                name: Some("Polar H10 1234".into()),
                address: "A0:9E:1A:00:00:01".into(),
                rssi: Some(-61),
                services: vec![0x180D],
            },
            ScanEntry { name: None, address: "00:11:22:33:44:55".into(), rssi: None, services: vec![0x1809, 0x181A] },
        ];
        let mut out = Vec::new();
        print_scan(&entries, true, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            lines[0],
            serde_json::json!({"name": "Polar H10 1234", "address": "A0:9E:1A:00:00:01", "rssi": -61, "services": ["0x180D"]})
        );
        assert_eq!(lines[1]["name"], serde_json::Value::Null);
        assert_eq!(lines[1]["services"], serde_json::json!(["0x1809", "0x181A"]));

        let mut out = Vec::new();
        print_scan(&entries, false, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("A0:9E:1A:00:00:01   -61  Polar H10 1234"), "{text}");
        assert!(text.contains("thermometer, environmental"), "{text}");

        let mut out = Vec::new();
        print_scan(&[], false, &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().starts_with("No device"));
    }

    #[tokio::test]
    async fn reports_become_time_ordered_batches() {
        let (rtx, rrx) = mpsc::channel(8);
        let (btx, mut brx) = mpsc::channel(8);
        let label: DeviceLabel = "chest".into();
        for bpm in [60, 61, 62] {
            let body = EventBody::Notification {
                characteristic: Characteristic::HeartRateMeasurement,
                payload: Payload::from_slice(&[0x06, bpm]),
            };
            rtx.send(Report { device: label.clone(), body }).await.unwrap();
        }
        drop(rtx);
        stamp_and_forward(rrx, &Clock::real(), &btx).await;
        drop(btx);
        let mut events = Vec::new();
        while let Some(b) = brx.recv().await {
            assert_eq!(b.until, b.events.last().unwrap().at);
            events.extend(b.events);
        }
        assert_eq!(events.len(), 3);
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(events.iter().all(|e| e.device.as_deref() == Some("chest")));
    }

    #[tokio::test]
    async fn duplicate_labels_are_refused_before_touching_bluetooth() {
        let (tx, _rx) = mpsc::channel(1);
        let devices = vec!["chest=Polar".parse().unwrap(), "chest=00:11:22:33:44:55".parse().unwrap()];
        let err = run(devices, TechStale::default(), Clock::real(), tx).await.unwrap_err();
        assert!(matches!(err, BleError::DuplicateLabel { .. }), "{err}");
    }
}
