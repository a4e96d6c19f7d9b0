//! `vigil central --demo N`: N simulated bedsides in the station's own
//! process, rooms `room-1`…`room-N`, each a real session (pipeline, alarm
//! engine, publisher) on its own scenario and seed, publishing through the
//! station's broker; nothing recorded, their headless lines discarded.
//!
//! Remote acknowledgement is left off, as on any bedside by default: an
//! `a` from the station is then recorded at the bedside as refused.

use std::time::Duration;

use crate::clock::{Clock, Speed};
use crate::config::Config;
use crate::mqtt::connect::BrokerUrl;
use crate::mqtt::publish::PublishOptions;
use crate::session::{self, SessionPlan, SourceFactory};
use crate::snapshot::Mode;
use crate::sources::simulate as sim;

/// Pause between a demo session's end and its next round, so the station
/// shows the room stopped for a moment.
const NEXT_ROUND_AFTER: Duration = Duration::from_secs(5);

/// Start `n` demo bedsides (tasks on the current runtime) publishing to
/// `url` as rooms of `site`. Every scenario is loaded first, so a broken
/// one is an error here.
pub fn start(n: u16, url: &BrokerUrl, site: &str) -> anyhow::Result<()> {
    let scenarios: Vec<String> = sim::list().into_iter().map(|(name, _)| name).collect();
    for name in &scenarios {
        sim::load(name)?;
    }
    for i in 1..=n {
        let scenario = scenarios[usize::from(i - 1) % scenarios.len().max(1)].clone();
        tokio::spawn(room(i, scenario, url.clone(), site.to_owned()));
    }
    Ok(())
}

/// One room, round after round of its scenario.
async fn room(i: u16, scenario: String, url: BrokerUrl, site: String) {
    for round in 0u64.. {
        let outcome = match plan(i, &scenario, round, &url, &site) {
            Ok(plan) => session::run(plan).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::error!(room = i, error = %format!("{e:#}"), "demo bedside failed");
        }
        tokio::time::sleep(NEXT_ROUND_AFTER).await;
    }
}

fn plan(i: u16, name: &str, round: u64, url: &BrokerUrl, site: &str) -> anyhow::Result<SessionPlan> {
    let scenario = sim::load(name)?;
    // Each room its own seed, each round another, so no two rooms alarm alike.
    let seed = scenario.seed.wrapping_add(u64::from(i) * 1000 + round);
    let devices = scenario.device_profiles().into_iter().map(|(label, p)| (label, p.setup())).collect();
    let clock = Clock::virtual_at(Speed::Times(1.0), crate::clock::start_now());
    let source: SourceFactory = Box::new(move |tx, clock, _devices| {
        session::ends_on_close(tx.clone(), async move {
            sim::run(&scenario, seed, clock, tx).await.map_err(anyhow::Error::from)
        })
    });
    Ok(SessionPlan {
        clock,
        source,
        mode: Mode::Simulated,
        config: Config::default(),
        participant: Some(format!("DEMO-{i:02}")),
        devices,
        dashboard: None,
        alarm_command: None,
        replay_control: None,
        headless_out: Some(Box::new(std::io::sink())),
        record: None,
        resume: None,
        publish: Some(PublishOptions::new(url.clone(), site, &format!("room-{i}"))),
    })
}
