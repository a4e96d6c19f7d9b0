//! Exercise the BLE source without the rest of vigil (used by
//! `tests/ble-vm/run` until `vigil monitor` exists, and handy on real
//! hardware):
//!
//! ```text
//! ble_probe scan [SECONDS]              # like `vigil scan --json`
//! ble_probe run [LABEL=]ADDR|NAME ...   # every event `run` sends, one JSON line each
//! ```
//!
//! `run` prints events in the `--stream` input format of DESIGN.md, so its
//! output can be fed back to `vigil monitor --stream`. It stops on SIGTERM
//! or Ctrl-C.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;
use tokio::sync::mpsc;
use vigil::clock::Clock;
use vigil::model::{EventBody, SourceEvent};
use vigil::sources::ble::{self, DeviceSpec};

/// Batches waiting to be printed.
const BATCH_CAPACITY: usize = 64;

fn event_json(e: &SourceEvent) -> serde_json::Value {
    let at_ms = e.at.as_millis();
    let device = e.device.as_deref();
    match &e.body {
        EventBody::Notification { characteristic, payload } => {
            json!({"at_ms": at_ms, "device": device, "characteristic": characteristic.to_string(), "payload": hex::encode(payload)})
        }
        EventBody::Connected { name, address, services } => {
            let services: Vec<String> = services.iter().map(|s| format!("0x{s:04X}")).collect();
            json!({"at_ms": at_ms, "device": device, "event": "connected", "name": name, "address": address, "services": services})
        }
        EventBody::Disconnected { reason } => {
            json!({"at_ms": at_ms, "device": device, "event": "disconnected", "reason": reason})
        }
        EventBody::Rssi(rssi) => {
            json!({"at_ms": at_ms, "device": device, "event": "rssi", "rssi": rssi})
        }
        EventBody::DeviceInfo(info) => {
            json!({"at_ms": at_ms, "device": device, "event": "device_info", "info": info})
        }
        other => json!({"at_ms": at_ms, "device": device, "event": format!("{other:?}")}),
    }
}

async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match probe().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ble_probe: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn probe() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "vigil=info".into()))
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout = std::io::stdout().lock();
    match args.first().map(String::as_str) {
        Some("scan") => {
            let secs: f64 = args.get(1).map_or(Ok(5.0), |s| s.parse()).context("scan SECONDS: give a number")?;
            let entries = ble::scan(Duration::from_secs_f64(secs)).await?;
            ble::print_scan(&entries, true, &mut stdout)?;
        }
        Some("run") if args.len() > 1 => {
            let devices = args[1..].iter().map(|a| a.parse::<DeviceSpec>()).collect::<Result<Vec<_>, _>>()?;
            let (tx, mut rx) = mpsc::channel(BATCH_CAPACITY);
            // The watchdog's staleness limit: `vigil config`'s defaults.
            let stale_config = vigil::config::TechStale::default();
            let source = tokio::spawn(ble::run(devices, stale_config, Clock::real(), tx));
            let stop = stopped();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    batch = rx.recv() => match batch {
                        Some(batch) => {
                            for e in &batch.events {
                                writeln!(stdout, "{}", event_json(e))?;
                            }
                            stdout.flush()?;
                        }
                        None => break,
                    },
                    () = &mut stop => break,
                }
            }
            source.abort();
            if let Ok(Ok(Err(e))) =
                tokio::time::timeout(Duration::from_secs(1), source).await.map(|r| r.map_err(|_| ()))
            {
                return Err(e.into());
            }
        }
        _ => bail!("usage: ble_probe scan [SECONDS] | ble_probe run [LABEL=]ADDR|NAME ..."),
    }
    Ok(())
}
