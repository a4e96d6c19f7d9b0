//! The publisher task: the queue, the MQTT connection and its reconnects.
//!
//! rumqttc's event loop runs in a task of its own ([`drive`]) and reports
//! every event here. rumqttc does not keep what it was handed across a
//! reconnect with a clean session: a publish written but not PUBACKed, or
//! still in its request channel, is dropped when the new CONNACK says no
//! session is present. So this task tracks every QoS 1 message until its
//! PUBACK: rumqttc reports each publish it writes (`Outgoing::Publish`, in
//! the order it was handed) and each PUBACK by packet id. When the
//! connection drops, what was handed and not acknowledged goes back to the
//! front of the queue, in order, and is sent again after reconnecting (the
//! station drops duplicates by `(session, seq)`). [`drive`] waits for that
//! before reconnecting, so nothing handed to the old connection is sent on
//! the new one behind this task's back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rumqttc::Outgoing;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{LastWill, Packet, PubAckReason, PublishProperties};
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop};
use tokio::sync::{mpsc, oneshot, watch};

use super::{BACKOFF_MAX, BACKOFF_MIN, Health, Outbound, PublishOptions, VITALS_EVERY, VITALS_EXPIRY};
use crate::mqtt::payload::{self, CONTENT_TYPE, RoomState};
use crate::mqtt::topic::{Kind, Topic};
use crate::snapshot::{NetworkLink, Snapshot};

/// QoS 1 messages handed to rumqttc and not yet acknowledged: well under
/// any broker's receive maximum, so rumqttc never stalls on packet ids.
const WINDOW: usize = 32;
/// rumqttc's request channel: the window plus retained topics and vitals.
const REQUESTS: usize = WINDOW + 16;

pub(super) struct Setup {
    pub options: PublishOptions,
    pub status: payload::Status,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub rx: mpsc::Receiver<Outbound>,
    pub health: watch::Sender<Health>,
    pub acks: mpsc::Sender<payload::Ack>,
}

/// What [`drive`] reports.
enum LinkEvent {
    Event(Box<Event>),
    /// The connection failed or could not be made; [`drive`] reconnects
    /// once this task has taken back what it handed.
    Down(String, oneshot::Sender<()>),
}

/// A QoS 1 message of the queue.
#[derive(Debug, Clone)]
struct Queued {
    kind: Kind,
    payload: Vec<u8>,
}

/// What rumqttc was handed, in order.
#[derive(Debug)]
enum Handed {
    Queued(Queued),
    /// Retained topics and vitals: republished on reconnect anyway.
    Other,
}

/// The task: connect, publish, reconnect, until the session stops it.
pub(super) fn run(setup: Setup) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>> + Send> {
    let Setup { options, status, snapshots, rx, health, acks } = setup;
    let client_id = format!("vigil-{}-{}", options.site, options.room);
    let mut mqtt = crate::mqtt::connect::options(&options.url, &client_id, options.keep_alive, &options.security)?;
    let topic = |kind| Topic::new(&options.site, &options.room, kind).to_string();
    let offline = payload::Status { state: RoomState::Offline, ..status.clone() };
    // No delay: the station learns at once that the bedside is gone.
    mqtt.set_last_will(LastWill::new(topic(Kind::Status), serde_json::to_vec(&offline)?, QoS::AtLeastOnce, true, None));
    let (client, eventloop) = AsyncClient::new(mqtt, REQUESTS);
    let (events_tx, events) = mpsc::channel(REQUESTS * 4);
    let link = Link {
        client,
        topics: Topics {
            status: topic(Kind::Status),
            vitals: topic(Kind::Vitals),
            alarms: topic(Kind::Alarms),
            alarm_state: topic(Kind::AlarmState),
            events: topic(Kind::Events),
            ack: topic(Kind::Ack),
        },
        capacity: options.queue_capacity,
        queue: VecDeque::new(),
        handed: VecDeque::new(),
        inflight: HashMap::new(),
        connected: false,
        dropped: 0,
        overflowing: false,
        status,
        alarm_state: None,
        state_due: false,
        snapshots,
        health,
        acks,
        room: options.room.clone(),
        url: options.url.to_string(),
        stopping: false,
        stopped_sent: false,
    };
    Ok(async move {
        let driver = tokio::spawn(drive(eventloop, events_tx));
        let result = link.run(rx, events).await;
        driver.abort();
        result
    })
}

/// rumqttc's event loop: poll, report, and after a failure wait for the
/// task to take back what it handed, then reconnect with backoff.
async fn drive(mut eventloop: EventLoop, tx: mpsc::Sender<LinkEvent>) {
    let mut backoff = BACKOFF_MIN;
    loop {
        match eventloop.poll().await {
            Ok(event) => {
                if matches!(event, Event::Incoming(Packet::ConnAck(_))) {
                    backoff = BACKOFF_MIN;
                }
                if tx.send(LinkEvent::Event(Box::new(event))).await.is_err() {
                    return;
                }
            }
            Err(ConnectionError::RequestsDone) => return,
            Err(e) => {
                let (done_tx, done) = oneshot::channel();
                if tx.send(LinkEvent::Down(e.to_string(), done_tx)).await.is_err() || done.await.is_err() {
                    return;
                }
                // Whatever rumqttc still holds was taken back by the task;
                // sending it on the new connection too would put it out of
                // order.
                eventloop.clean();
                eventloop.pending.clear();
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

struct Topics {
    status: String,
    vitals: String,
    alarms: String,
    alarm_state: String,
    events: String,
    ack: String,
}

struct Link {
    client: AsyncClient,
    topics: Topics,
    capacity: usize,
    /// Waiting to be handed to rumqttc.
    queue: VecDeque<Queued>,
    /// Handed, not yet written (rumqttc reports writes in this order).
    handed: VecDeque<Handed>,
    /// Written, waiting for the PUBACK, by packet id.
    inflight: HashMap<u16, (u64, Handed)>,
    connected: bool,
    dropped: u64,
    overflowing: bool,
    status: payload::Status,
    alarm_state: Option<payload::AlarmState>,
    /// `alarm_state` changed and goes out once its transitions are handed.
    state_due: bool,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    health: watch::Sender<Health>,
    acks: mpsc::Sender<payload::Ack>,
    room: String,
    url: String,
    stopping: bool,
    stopped_sent: bool,
}

impl Link {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Outbound>,
        mut events: mpsc::Receiver<LinkEvent>,
    ) -> anyhow::Result<()> {
        let mut vitals = tokio::time::interval(VITALS_EVERY);
        vitals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Written order of handed messages, so requeued ones keep it.
        let mut written: u64 = 0;
        loop {
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Some(LinkEvent::Event(event)) => {
                        if self.on_event(*event, &mut written) {
                            return Ok(());
                        }
                    }
                    Some(LinkEvent::Down(why, done)) => {
                        self.on_down(&why);
                        let _ = done.send(());
                        if self.stopping {
                            // No broker to say `stopped` to: its Will says
                            // `offline` once it notices.
                            return Ok(());
                        }
                    }
                    None => return Ok(()),
                },
                msg = rx.recv(), if !self.stopping => match msg {
                    Some(msg) => self.on_outbound(msg),
                    // The session is gone without a clean stop: the Will
                    // tells the station.
                    None => return Ok(()),
                },
                _ = vitals.tick() => {
                    if self.connected && !self.stopped_sent {
                        self.publish_vitals();
                    }
                }
            }
            // Take everything already waiting before handing, so a burst
            // is handed (and its alarm_state coalesced) in one go.
            while !self.stopping
                && let Ok(msg) = rx.try_recv()
            {
                self.on_outbound(msg);
            }
            self.hand();
            self.report();
        }
    }

    /// One rumqttc event; `true` once the clean disconnect went out.
    fn on_event(&mut self, event: Event, written: &mut u64) -> bool {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.connected = true;
                tracing::info!(broker = %self.url, "connected to the central station's broker");
                // The retained topics, afresh: the broker may have lost
                // them, or holds this room's Last Will.
                self.publish_status(RoomState::Online);
                self.state_due = true;
                self.publish_vitals();
                if let Err(e) = self.client.try_subscribe(self.topics.ack.clone(), QoS::AtLeastOnce) {
                    tracing::warn!("cannot subscribe to {}: {e}", self.topics.ack);
                }
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(h) = self.handed.pop_front()
                    && pkid != 0
                {
                    *written += 1;
                    self.inflight.insert(pkid, (*written, h));
                }
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some((_, Handed::Other)) = self.inflight.remove(&ack.pkid)
                    && self.stopped_sent
                {
                    // The `stopped` status is the broker's: leave cleanly.
                    if let Err(e) = self.client.try_disconnect() {
                        tracing::warn!("cannot disconnect: {e}");
                        return true;
                    }
                }
                if !matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) {
                    tracing::warn!(reason = ?ack.reason, "the broker refused a message");
                }
            }
            Event::Outgoing(Outgoing::Disconnect) => return true,
            Event::Incoming(Packet::Publish(p)) => self.on_publish(&p.topic, &p.payload),
            _ => {}
        }
        false
    }

    /// The connection is gone: what was handed and not acknowledged goes
    /// back to the front of the queue, in the order it was written.
    fn on_down(&mut self, why: &str) {
        if self.connected {
            tracing::warn!(broker = %self.url, "lost the central station's broker: {why}");
        }
        self.connected = false;
        let mut back: Vec<(u64, Handed)> = self.inflight.drain().map(|(_, v)| v).collect();
        back.sort_by_key(|(order, _)| *order);
        let back = back.into_iter().map(|(_, h)| h).chain(self.handed.drain(..));
        let mut requeued: Vec<Queued> =
            back.filter_map(|h| if let Handed::Queued(q) = h { Some(q) } else { None }).collect();
        requeued.reverse();
        for q in requeued {
            self.queue.push_front(q);
        }
        while self.queue.len() > self.capacity {
            self.queue.pop_back();
            self.drop_one();
        }
    }

    fn on_outbound(&mut self, msg: Outbound) {
        match msg {
            Outbound::Alarm(transition) => self.enqueue(Kind::Alarms, &transition),
            Outbound::State(state) => {
                self.alarm_state = Some(state);
                self.state_due = true;
            }
            Outbound::Event(event) => self.enqueue(Kind::Events, &event),
            Outbound::Stop => self.stopping = true,
        }
    }

    fn enqueue(&mut self, kind: Kind, payload: &impl serde::Serialize) {
        let Ok(json) = serde_json::to_vec(payload) else { return };
        if self.queue.len() >= self.capacity {
            // The oldest goes: the newest transitions matter most, and
            // `alarm_state` still carries the whole picture.
            self.queue.pop_front();
            self.drop_one();
        }
        self.queue.push_back(Queued { kind, payload: json });
    }

    fn drop_one(&mut self) {
        self.dropped += 1;
        self.overflowing = true;
    }

    /// Hand queued messages to rumqttc while the window has room; then the
    /// retained alarm picture, and at a stop the `stopped` status.
    fn hand(&mut self) {
        if !self.connected {
            return;
        }
        while self.handed.len() + self.inflight.len() < WINDOW
            && let Some(q) = self.queue.front()
        {
            let topic = match q.kind {
                Kind::Alarms => &self.topics.alarms,
                _ => &self.topics.events,
            };
            if self
                .client
                .try_publish_with_properties(topic.clone(), QoS::AtLeastOnce, false, q.payload.clone(), json_props())
                .is_err()
            {
                break;
            }
            if let Some(q) = self.queue.pop_front() {
                self.handed.push_back(Handed::Queued(q));
            }
        }
        if !self.queue.is_empty() {
            return;
        }
        if self.state_due {
            self.state_due = false;
            if let Some(state) = &self.alarm_state {
                let json = serde_json::to_vec(state).unwrap_or_default();
                self.publish_other(self.topics.alarm_state.clone(), QoS::AtLeastOnce, json, json_props());
            } else {
                // No transition yet: an empty picture replaces a previous
                // session's.
                let empty = payload::AlarmState {
                    v: payload::VERSION,
                    session: self.status.session.clone(),
                    seq: 0,
                    at: super::utc(chrono::Utc::now()),
                    alarms: Vec::new(),
                };
                let json = serde_json::to_vec(&empty).unwrap_or_default();
                self.publish_other(self.topics.alarm_state.clone(), QoS::AtLeastOnce, json, json_props());
            }
        }
        if self.stopping && !self.stopped_sent && self.handed.is_empty() && self.inflight.is_empty() {
            self.publish_vitals();
            self.publish_status(RoomState::Stopped);
            self.stopped_sent = true;
        }
        if self.inflight.is_empty() && self.handed.is_empty() {
            // Everything the full queue kept has been delivered.
            self.overflowing = false;
        }
    }

    fn publish_status(&mut self, state: RoomState) {
        self.status.state = state;
        let snap = self.snapshots.borrow().clone();
        self.status.devices = snap.devices.iter().map(|d| d.label.as_str().to_owned()).collect();
        let json = serde_json::to_vec(&self.status).unwrap_or_default();
        self.publish_other(self.topics.status.clone(), QoS::AtLeastOnce, json, json_props());
    }

    fn publish_vitals(&mut self) {
        let snap = self.snapshots.borrow().clone();
        let vitals = super::vitals(&snap, &self.status.session, chrono::Utc::now());
        let json = serde_json::to_vec(&vitals).unwrap_or_default();
        let mut props = json_props();
        props.message_expiry_interval = Some(u32::try_from(VITALS_EXPIRY.as_secs()).unwrap_or(u32::MAX));
        self.publish_other(self.topics.vitals.clone(), QoS::AtMostOnce, json, props);
    }

    /// A retained message (or vitals): not queued, the latest is what counts.
    fn publish_other(&mut self, topic: String, qos: QoS, json: Vec<u8>, props: PublishProperties) {
        match self.client.try_publish_with_properties(topic, qos, true, json, props) {
            Ok(()) => self.handed.push_back(Handed::Other),
            Err(e) => tracing::warn!("cannot hand a retained message to the MQTT client: {e}"),
        }
    }

    /// A message on this room's `ack` topic: the station's acknowledgement.
    fn on_publish(&mut self, topic: &[u8], body: &[u8]) {
        let Ok(topic) = std::str::from_utf8(topic) else { return };
        if Topic::parse(topic).is_none_or(|t| t.kind != Kind::Ack || t.room != self.room) {
            return;
        }
        match serde_json::from_slice::<payload::Ack>(body) {
            Ok(ack) => {
                if self.acks.try_send(ack).is_err() {
                    tracing::warn!("a station acknowledgement arrived faster than the session takes them; ignored");
                }
            }
            Err(e) => tracing::warn!("{topic}: not an acknowledgement ({e})"),
        }
    }

    fn report(&self) {
        let health = Health {
            link: NetworkLink {
                connected: self.connected,
                queued: u64::try_from(self.queue.len() + self.handed.len() + self.inflight.len()).unwrap_or(u64::MAX),
                dropped: self.dropped,
            },
            overflowing: self.overflowing,
        };
        self.health.send_if_modified(|h| {
            let changed = *h != health;
            *h = health;
            changed
        });
    }
}

/// Properties of every payload: JSON.
fn json_props() -> PublishProperties {
    PublishProperties { content_type: Some(CONTENT_TYPE.to_owned()), ..PublishProperties::default() }
}
