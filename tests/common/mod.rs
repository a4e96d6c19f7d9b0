//! Helpers shared by integration tests: run a session in-process and
//! collect its headless lines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use vigil::clock::{Clock, Speed};
use vigil::config::Config;
use vigil::devices::DeviceSetup;
use vigil::model::{Batch, DeviceLabel};
use vigil::session::{self, SessionOutcome, SessionPlan, SourceFactory};
use vigil::snapshot::Mode;

/// A `Write` whose bytes the test reads afterwards.
#[derive(Clone, Default)]
pub struct Shared(pub Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run a headless session at `--speed max` and return its parsed lines.
pub fn run_headless(
    source: SourceFactory,
    devices: Vec<(DeviceLabel, DeviceSetup)>,
    config: Config,
) -> (SessionOutcome, Vec<serde_json::Value>) {
    run_headless_on(Clock::virtual_at(Speed::Max, chrono::Utc::now()), source, devices, config)
}

/// Run a headless session on `clock` and return its parsed lines.
pub fn run_headless_on(
    clock: Clock,
    source: SourceFactory,
    devices: Vec<(DeviceLabel, DeviceSetup)>,
    config: Config,
) -> (SessionOutcome, Vec<serde_json::Value>) {
    let out = Shared::default();
    let plan = SessionPlan {
        clock,
        source,
        mode: Mode::Simulated,
        config,
        participant: None,
        devices,
        dashboard: None,
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(out.clone())),
        record: None,
        resume: None,
        publish: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let outcome = rt.block_on(session::run(plan)).unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (outcome, lines)
}

/// A source that sends fixed batches.
pub fn batches_source(batches: Vec<Batch>) -> SourceFactory {
    Box::new(move |tx, _clock, _devices| {
        Box::pin(async move {
            for b in batches {
                tx.send(b).await?;
            }
            Ok(())
        })
    })
}

/// A shipped scenario as a session source, with its declared devices.
pub fn scenario_source(name: &str) -> (SourceFactory, Vec<(DeviceLabel, DeviceSetup)>) {
    let scenario = vigil::sources::simulate::load(name).unwrap();
    let devices = scenario.device_profiles().into_iter().map(|(l, p)| (l, vigil::app::device_setup(&p))).collect();
    let seed = scenario.seed;
    let source: SourceFactory = Box::new(move |tx, clock, _devices| {
        Box::pin(
            async move { vigil::sources::simulate::run(&scenario, seed, clock, tx).await.map_err(anyhow::Error::from) },
        )
    });
    (source, devices)
}

/// The vigil binary run by `sh -c` after the shell command `setup` (`umask
/// 000`, `ulimit -f 8`): for the process limits and modes that only a shell
/// sets without privileges. `exec` makes vigil the process the limit binds
/// and the caller waits on. The caller adds the environment and runs it.
pub fn vigil_under_sh(setup: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!("{setup} && exec \"$0\" \"$@\"")).arg(env!("CARGO_BIN_EXE_vigil")).args(args);
    cmd
}
