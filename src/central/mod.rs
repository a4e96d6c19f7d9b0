//! `vigil central`: the central station (DESIGN.md "Central station (MQTT 5)").
//!
//! ```text
//!  broker ──▶ link task (rumqttc EventLoop: reconnect, backoff, subscribe)
//!                 │ LinkEvent (bounded channel)
//!                 ▼
//!        Station: rooms::Ward ──lines──▶ headless stdout | screen (ui) + bell
//!                 │                 └──▶ --alarm-command
//!                 └── ack (station → bedside) ──▶ broker
//! ```
//!
//! Without `--broker` an embedded broker (rumqttd) runs on 127.0.0.1 first;
//! `--demo N` adds N simulated bedsides publishing to it.

mod demo;
pub mod rooms;
pub mod screen;
mod ui;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, EventLoop};
use serde_json::json;
use tokio::sync::mpsc;

use crate::alarm_command::{AlarmCommand, Timing};
use crate::cli::CentralArgs;
use crate::model::SessionTime;
use crate::mqtt::broker::EmbeddedBroker;
use crate::mqtt::connect::{self, BrokerUrl, Security};
use crate::mqtt::payload::{self, Ack};
use crate::mqtt::topic::{self, Kind, Topic};
use rooms::{Line, Now, Ward};

/// Broker events waiting for the station; when full, the link task waits
/// (and the broker holds QoS 1 messages for it).
pub const LINK_QUEUE: usize = 1024;
/// rumqttc's request queue (subscribe, acks sent by the station).
const MQTT_REQUESTS: usize = 64;
/// Lines waiting for `--alarm-command`'s supervisor.
const ALARM_LINES: usize = 256;
/// How often silence and held transitions are looked at.
pub const TICK: Duration = Duration::from_millis(250);
/// The alarm command's heartbeat, as at the bedside.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long the broker keeps the station's session (its subscription and
/// the QoS 1 alarm transitions queued for it) after the link is lost.
const SESSION_EXPIRY_S: u32 = 3600;
/// Waits between reconnection attempts: doubling from the first to the last.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the link task tells the station.
#[derive(Debug)]
pub enum LinkEvent {
    /// Connected (again) and subscribed.
    Up,
    /// The connection failed or was refused.
    Down(String),
    Message {
        topic: String,
        payload: Vec<u8>,
        retained: bool,
    },
}

/// `vigil central`.
pub fn run(args: &CentralArgs) -> anyhow::Result<ExitCode> {
    let security = Security {
        ca_file: args.ca_file.clone(),
        client_cert: args.client_cert.clone(),
        client_key: args.client_key.clone(),
        ..Security::from_env(args.password_file.as_deref())?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the station's runtime")?;
    runtime.block_on(station(args, security))
}

async fn station(args: &CentralArgs, security: Security) -> anyhow::Result<ExitCode> {
    let url = match &args.broker {
        Some(url) => url.clone(),
        None => {
            let broker = EmbeddedBroker::start(SocketAddr::from(([127, 0, 0, 1], args.port)))?;
            BrokerUrl::local(broker.addr().port())
        }
    };
    let mut options =
        connect::options(&url, &format!("vigil-central-{}", args.station), connect::DEFAULT_KEEP_ALIVE, &security)?;
    options.set_session_expiry_interval(Some(SESSION_EXPIRY_S));
    let (client, events) = AsyncClient::new(options, MQTT_REQUESTS);
    let (tx, rx) = mpsc::channel(LINK_QUEUE);
    tokio::spawn(link(events, client.clone(), topic::site_filter(&args.site), tx));
    if let Some(n) = args.demo {
        demo::start(n, &url, &args.site)?;
    }
    let alarm_command = match &args.alarm_command {
        Some(cmd) => Some(AlarmCommand::start(cmd, mpsc::channel(ALARM_LINES), Timing::DEFAULT)?),
        None => None,
    };
    let station = Station {
        ward: Ward::new(&args.site),
        client,
        name: args.station.clone(),
        url,
        alarm_command,
        started: Instant::now(),
    };
    let screen = if args.headless { None } else { Some(ui::Screen::start()?) };
    serve(station, rx, screen).await
}

/// Keeps the broker connection: rumqttc reconnects on the next poll after
/// an error; this paces those polls and subscribes after every connect.
///
/// The first connection starts a clean session (a station just started
/// wants the retained picture, not a queue left for its predecessor);
/// reconnections resume it, so alarm transitions published while the
/// station was away (a bedside that reconnected first after a broker
/// restart) are queued for it by the broker and arrive in order.
async fn link(mut events: EventLoop, client: AsyncClient, filter: String, tx: mpsc::Sender<LinkEvent>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        let event = match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = BACKOFF_MIN;
                events.options.set_clean_start(false);
                if let Err(e) = client.try_subscribe(filter.clone(), QoS::AtLeastOnce) {
                    tracing::error!(error = %e, "central: cannot subscribe");
                }
                LinkEvent::Up
            }
            Ok(Event::Incoming(Packet::Publish(p))) => LinkEvent::Message {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                payload: p.payload.to_vec(),
                retained: p.retain,
            },
            Ok(_) => continue,
            Err(e) => {
                let down = LinkEvent::Down(e.to_string());
                if tx.send(down).await.is_err() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        if tx.send(event).await.is_err() {
            return;
        }
    }
}

/// The station's state and its outputs, shared by headless and screen.
#[derive(Debug)]
pub struct Station {
    pub ward: Ward,
    client: AsyncClient,
    pub name: String,
    pub url: BrokerUrl,
    alarm_command: Option<AlarmCommand>,
    started: Instant,
}

impl Station {
    fn on_link(&mut self, event: LinkEvent, now: Now) -> Vec<Line> {
        let lines = match event {
            LinkEvent::Up => {
                tracing::info!(broker = %self.url, "central: connected");
                self.ward.broker_connected(now)
            }
            LinkEvent::Down(why) => {
                tracing::warn!(broker = %self.url, error = %why, "central: broker connection lost");
                self.ward.broker_down(now)
            }
            LinkEvent::Message { topic, payload, retained } => {
                self.ward.handle(&topic, &payload, retained, now).unwrap_or_default()
            }
        };
        self.feed_command(&lines);
        lines
    }

    fn tick(&mut self, now: Now) -> Vec<Line> {
        let lines = self.ward.tick(now);
        self.feed_command(&lines);
        lines
    }

    fn feed_command(&mut self, lines: &[Line]) {
        if let Some(cmd) = &mut self.alarm_command {
            for line in lines.iter().filter(|l| matches!(l, Line::Alarm(_))) {
                cmd.line(serde_json::to_value(line).unwrap_or_default());
            }
        }
    }

    fn heartbeat(&mut self) {
        let at = SessionTime::from_millis(u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX));
        if let Some(cmd) = &mut self.alarm_command {
            cmd.heartbeat(at);
        }
    }

    /// Whether `--alarm-command` is failing (shown on screen).
    #[must_use]
    pub fn alarm_command_failing(&self) -> bool {
        self.alarm_command.as_ref().is_some_and(|c| c.health().failing)
    }

    /// Ask `room`'s bedside to acknowledge its alarm `alarm` (of `device`);
    /// the bedside decides. Never waits on the network.
    pub fn ack(&self, room: &str, alarm: &str, device: Option<&str>) -> anyhow::Result<()> {
        let ack = Ack {
            v: payload::VERSION,
            alarm: Some(alarm.to_owned()),
            device: device.map(str::to_owned),
            station: self.name.clone(),
        };
        let topic = Topic::new(self.ward.site(), room, Kind::Ack).to_string();
        let properties =
            PublishProperties { content_type: Some(payload::CONTENT_TYPE.to_owned()), ..PublishProperties::default() };
        self.client
            .try_publish_with_properties(topic, QoS::AtLeastOnce, false, serde_json::to_vec(&ack)?, properties)
            .with_context(|| format!("cannot send the acknowledgement to {room}"))
    }

    async fn finish(self) {
        if let Some(cmd) = self.alarm_command {
            cmd.finish(json!({"type": "station_stopped", "station": self.name})).await;
        }
    }
}

/// The station's one loop: broker events, ticks, keys (with a screen) and
/// the stop signal in; headless lines or frames out.
async fn serve(
    mut station: Station,
    mut events: mpsc::Receiver<LinkEvent>,
    mut screen: Option<ui::Screen>,
) -> anyhow::Result<ExitCode> {
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut tick = tokio::time::interval(TICK);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut stop = std::pin::pin!(stop_signal());
    loop {
        // Vitals change no line: the screen shows them at the next tick,
        // so a ward of rooms at 1 Hz costs 4 frames a second, not one per
        // message; a changed alarm or room is drawn at once.
        let (lines, redraw) = tokio::select! {
            event = events.recv() => match event {
                Some(event) => (station.on_link(event, Now::real()), false),
                None => anyhow::bail!("the broker link stopped unexpectedly"),
            },
            _ = tick.tick() => (station.tick(Now::real()), true),
            _ = heartbeat.tick() => {
                station.heartbeat();
                continue;
            }
            key = next_key(screen.as_mut()) => {
                let key = key?;
                if let Some(screen) = screen.as_mut()
                    && screen.on_key(key, &station)
                {
                    break;
                }
                (Vec::new(), true)
            }
            () = &mut stop => break,
        };
        match &mut screen {
            Some(screen) => {
                screen.note(&station, &lines);
                if redraw || !lines.is_empty() {
                    screen.draw(&station)?;
                }
            }
            None => {
                for line in &lines {
                    serde_json::to_writer(&mut out, line)?;
                    out.write_all(b"\n")?;
                }
                if !lines.is_empty() {
                    out.flush()?;
                }
            }
        }
    }
    // The terminal back before the alarm command's last words.
    drop(screen);
    station.finish().await;
    Ok(ExitCode::SUCCESS)
}

/// The screen's next key; never, without a screen.
async fn next_key(screen: Option<&mut ui::Screen>) -> anyhow::Result<ratatui::crossterm::event::KeyEvent> {
    match screen {
        Some(screen) => screen.key().await,
        None => std::future::pending().await,
    }
}

/// Ctrl-C or SIGTERM.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
