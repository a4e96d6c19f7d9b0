//! One device's life: acquire, stream, notice the drop, back off, acquire
//! again — forever, until the session ends.
//!
//! The supervisor knows nothing of btleplug: it drives a [`Link`], so the
//! reconnect and staleness rules are tested on a fake link under tokio's
//! paused time (see the tests below) and the BlueZ specifics live in
//! `bluez.rs`.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::TechStale;
use crate::model::{Characteristic, DeviceInfo, DeviceLabel, EventBody, Payload};
use crate::verdict::{DeviceTiming, Staleness};

/// First wait after a drop or a failed attempt.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// The wait doubles after each failed attempt up to this.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// What a successful acquisition found out about the device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Acquired {
    pub name: Option<String>,
    pub address: Option<String>,
    /// 16-bit SIG services the device offers.
    pub services: Vec<u16>,
    /// Device Information, when the device has the service.
    pub info: Option<DeviceInfo>,
    /// Values read once after connecting (Battery Level), forwarded as
    /// notifications so the pipeline decodes them like any other.
    pub reads: Vec<(Characteristic, Vec<u8>)>,
    /// Signal strength seen while finding the device.
    pub rssi: Option<i16>,
    /// Characteristics now subscribed (notify or indicate).
    pub subscribed: Vec<Characteristic>,
    /// What became of the ECG start command, on a strap with Polar's PMD
    /// service; `None` on any other device.
    pub ecg: Option<EcgStart>,
}

/// The answer to the ECG start command written after every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcgStart {
    Started,
    /// Refused (by status, by name), unanswered or not written: why.
    Refused(String),
}

/// Something a connected device did.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    Notification {
        characteristic: Characteristic,
        value: Vec<u8>,
    },
    Rssi(i16),
    /// The link is gone (the device went away, the adapter was switched off,
    /// the stack dropped it).
    Lost {
        reason: String,
    },
}

/// Why one acquisition attempt failed (device not in range, connect timed
/// out, …): logged and retried, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AcquireError(pub String);

/// A connection to one chosen device, as the supervisor needs it.
///
/// The futures are `Send` so each device's supervisor can run on its own
/// task. `next_event` must be cancel-safe: the supervisor races it against
/// the staleness deadline.
pub trait Link: Send {
    /// Find the device, connect, discover its services and subscribe to every
    /// supported characteristic it has.
    fn acquire(&mut self) -> impl Future<Output = Result<Acquired, AcquireError>> + Send;
    /// The next thing the connected device does.
    fn next_event(&mut self) -> impl Future<Output = LinkEvent> + Send;
    /// Drop the connection (after a loss or a stale stream); best effort.
    fn release(&mut self) -> impl Future<Output = ()> + Send;
    /// The session is ending: stop what was started on the device (ECG),
    /// then drop the connection; best effort, bounded.
    fn stop(&mut self) -> impl Future<Output = ()> + Send;
}

/// One device event on its way to the stamping loop in `run`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub device: DeviceLabel,
    pub body: EventBody,
}

/// Characteristics whose notifications arrive steadily while a sensor is
/// worn: silence on them means the stream is stale. Thermometer and cuff
/// measurements are intermittent and never make a device stale.
#[must_use]
pub fn is_continuous(c: Characteristic) -> bool {
    matches!(c, Characteristic::HeartRateMeasurement | Characteristic::PlxContinuousMeasurement)
}

/// A deadline that never comes (tokio's own `far_future` is private).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The receiver is gone: the session is ending.
struct Closed;

async fn emit(out: &mpsc::Sender<Report>, device: &DeviceLabel, body: EventBody) -> Result<(), Closed> {
    out.send(Report { device: device.clone(), body }).await.map_err(|_| Closed)
}

/// Supervise one device until `out` closes or `shutdown` turns true; then
/// stop what was started on it ([`Link::stop`]: a strap streaming ECG is
/// told to stop, so it does not go on draining its battery).
///
/// - A drop (or a first attempt that fails) is reported at once as
///   `Disconnected`, once per outage, so the alarm engine raises
///   `tech.disconnected` without waiting for the retries.
/// - Retries wait [`BACKOFF_START`], doubling up to [`BACKOFF_MAX`]; the wait
///   goes back to the start once a connection has delivered data (a device
///   that connects and drops at once keeps backing off).
/// - A continuous stream silent while "connected" for as long as makes its
///   data stale ([`Staleness::stale_after`] with the session's
///   `[alarms.tech_stale]`, the limit `tech.stale` and the dashboard use) is
///   released and re-acquired like a drop.
pub async fn supervise<L: Link>(
    device: DeviceLabel,
    link: &mut L,
    expected_interval: Option<Duration>,
    stale_config: TechStale,
    out: mpsc::Sender<Report>,
    mut shutdown: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = supervise_inner(&device, link, expected_interval, &stale_config, &out) => {}
        _ = shutdown.wait_for(|&stop| stop) => {}
    }
    link.stop().await;
}

async fn supervise_inner<L: Link>(
    device: &DeviceLabel,
    link: &mut L,
    expected_interval: Option<Duration>,
    stale_config: &TechStale,
    out: &mpsc::Sender<Report>,
) -> Result<(), Closed> {
    let mut backoff = BACKOFF_START;
    // Whether the current outage has been reported (the session starts with
    // the device not yet connected, which is reported if the first attempt
    // fails).
    let mut outage_reported = false;
    // The learned interval outlives a reconnection: it is the device's.
    // Never intermittent here: which characteristics count is decided per
    // notification (`is_continuous`).
    let mut staleness = Staleness::new(DeviceTiming { expected_interval, intermittent: false });
    loop {
        match link.acquire().await {
            Ok(acquired) => {
                announce(device, &acquired, out).await?;
                let watch = Watch { staleness: &mut staleness, config: stale_config };
                let reason = stream(device, link, &acquired, watch, &mut backoff, out).await?;
                tracing::warn!(device = %device, %reason, "BLE device lost");
                emit(out, device, EventBody::Disconnected { reason: Some(reason) }).await?;
                outage_reported = true;
                link.release().await;
            }
            Err(e) => {
                tracing::info!(device = %device, error = %e, retry_in = ?backoff, "BLE acquisition failed");
                if !outage_reported {
                    emit(out, device, EventBody::Disconnected { reason: Some(e.0) }).await?;
                    outage_reported = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn announce(device: &DeviceLabel, a: &Acquired, out: &mpsc::Sender<Report>) -> Result<(), Closed> {
    tracing::info!(device = %device, name = ?a.name, address = ?a.address, subscribed = ?a.subscribed, "BLE device connected");
    let connected =
        EventBody::Connected { name: a.name.clone(), address: a.address.clone(), services: a.services.clone() };
    emit(out, device, connected).await?;
    if let Some(info) = &a.info {
        emit(out, device, EventBody::DeviceInfo(info.clone())).await?;
    }
    for (characteristic, value) in &a.reads {
        let body = EventBody::Notification { characteristic: *characteristic, payload: Payload::from_slice(value) };
        emit(out, device, body).await?;
    }
    if let Some(rssi) = a.rssi {
        emit(out, device, EventBody::Rssi(rssi)).await?;
    }
    match &a.ecg {
        Some(EcgStart::Started) => emit(out, device, EventBody::EcgStatus { started: true, reason: None }).await?,
        Some(EcgStart::Refused(reason)) => {
            tracing::warn!(device = %device, %reason, "ECG not started");
            emit(out, device, EventBody::EcgStatus { started: false, reason: Some(reason.clone()) }).await?;
        }
        None => {}
    }
    Ok(())
}

/// The staleness watchdog's state and rule for one device.
struct Watch<'a> {
    /// Outlives a reconnection: the learned interval is the device's.
    staleness: &'a mut Staleness,
    config: &'a TechStale,
}

/// Forward events until the link is lost or goes stale; returns why.
async fn stream<L: Link>(
    device: &DeviceLabel,
    link: &mut L,
    acquired: &Acquired,
    watch: Watch<'_>,
    backoff: &mut Duration,
    out: &mpsc::Sender<Report>,
) -> Result<String, Closed> {
    let Watch { staleness, config } = watch;
    let configured = staleness.timing().expected_interval.is_some();
    let watched = configured || acquired.subscribed.iter().copied().any(is_continuous);
    let mut last_data = Instant::now();
    let mut seen_data = false;
    loop {
        // Never `None` (the supervisor's timing is never intermittent); a
        // limit beyond `Instant`'s range (an absurd `min_s`) never comes.
        let stale_after = staleness.stale_after(config).unwrap_or(Duration::MAX);
        let deadline = last_data.checked_add(stale_after).unwrap_or_else(far_future);
        tokio::select! {
            event = link.next_event() => match event {
                LinkEvent::Notification { characteristic, value } => {
                    let counts = configured || is_continuous(characteristic);
                    if counts {
                        let now = Instant::now();
                        if seen_data {
                            staleness.note_gap(now - last_data);
                        }
                        last_data = now;
                        seen_data = true;
                    }
                    *backoff = BACKOFF_START;
                    let body = EventBody::Notification { characteristic, payload: Payload::from_slice(&value) };
                    emit(out, device, body).await?;
                }
                LinkEvent::Rssi(rssi) => emit(out, device, EventBody::Rssi(rssi)).await?,
                LinkEvent::Lost { reason } => return Ok(reason),
            },
            () = tokio::time::sleep_until(deadline), if watched => {
                return Ok(format!("stale: no data for {} s", stale_after.as_secs_f64()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the fake device does on one connection: a script of (delay,
    /// event); after the script it stays silent but connected.
    #[derive(Debug, Clone)]
    struct Session {
        events: Vec<(Duration, LinkEvent)>,
    }

    /// (what happened, when), shared between the fake link and the test body.
    type CallLog = Arc<Mutex<Vec<(String, Instant)>>>;

    /// A fake link: each acquisition pops the next planned outcome.
    #[derive(Debug)]
    struct FakeLink {
        plan: VecDeque<Result<(Acquired, Session), AcquireError>>,
        current: VecDeque<(Duration, LinkEvent)>,
        /// (what, when) for the assertions, shared with the test body.
        log: CallLog,
    }

    impl FakeLink {
        fn new(plan: Vec<Result<(Acquired, Session), AcquireError>>) -> (Self, CallLog) {
            let log = Arc::new(Mutex::new(Vec::new()));
            (Self { plan: plan.into(), current: VecDeque::new(), log: log.clone() }, log)
        }

        fn note(&self, what: &str) {
            self.log.lock().unwrap().push((what.to_owned(), Instant::now()));
        }
    }

    impl Link for FakeLink {
        async fn acquire(&mut self) -> Result<Acquired, AcquireError> {
            self.note("acquire");
            match self.plan.pop_front() {
                Some(Ok((acquired, session))) => {
                    for c in &acquired.subscribed {
                        self.note(&format!("subscribe {c}"));
                    }
                    self.current = session.events.into();
                    Ok(acquired)
                }
                Some(Err(e)) => Err(e),
                None => Err(AcquireError("not found".into())),
            }
        }

        async fn next_event(&mut self) -> LinkEvent {
            // Cancel-safe: the event is only popped once its delay is over.
            match self.current.front() {
                Some((delay, _)) => {
                    tokio::time::sleep(*delay).await;
                    let (_, event) = self.current.pop_front().unwrap();
                    event
                }
                None => std::future::pending().await,
            }
        }

        async fn release(&mut self) {
            self.note("release");
            self.current.clear();
        }

        async fn stop(&mut self) {
            self.note("stop");
            self.current.clear();
        }
    }

    fn hr_device() -> Acquired {
        Acquired {
            name: Some("HR".into()),
            address: Some("00:AA:01:01:00:24".into()),
            services: vec![0x180D, 0x180F],
            info: Some(DeviceInfo { manufacturer: Some("ACME".into()), model: None, firmware: None }),
            reads: vec![(Characteristic::BatteryLevel, vec![87])],
            rssi: Some(-50),
            subscribed: vec![Characteristic::HeartRateMeasurement, Characteristic::BatteryLevel],
            ecg: None,
        }
    }

    /// A strap with Polar's PMD service and what became of its ECG start.
    fn ecg_strap(start: EcgStart) -> Acquired {
        Acquired {
            subscribed: vec![Characteristic::HeartRateMeasurement, crate::gatt::pmd::DATA_CHARACTERISTIC],
            ecg: Some(start),
            ..hr_device()
        }
    }

    fn hr(bpm: u8) -> LinkEvent {
        LinkEvent::Notification { characteristic: Characteristic::HeartRateMeasurement, value: vec![0x06, bpm] }
    }

    fn beats(n: usize, every: Duration) -> Vec<(Duration, LinkEvent)> {
        (0..n).map(|i| (every, hr(60 + i as u8))).collect()
    }

    /// Run the supervisor until `until` (paused time) and collect what it
    /// reported, each with the (virtual) time it arrived.
    async fn run_for(link: FakeLink, expected: Option<Duration>, until: Duration) -> Vec<(Duration, EventBody)> {
        run_with(link, expected, TechStale::default(), until).await
    }

    /// [`run_for`] with a session's `[alarms.tech_stale]`.
    async fn run_with(
        link: FakeLink,
        expected: Option<Duration>,
        config: TechStale,
        until: Duration,
    ) -> Vec<(Duration, EventBody)> {
        let (tx, mut rx) = mpsc::channel(64);
        let (_shutdown, shutdown_rx) = watch::channel(false);
        let start = Instant::now();
        let mut link = link;
        let task =
            tokio::spawn(async move { supervise("chest".into(), &mut link, expected, config, tx, shutdown_rx).await });
        let mut got = Vec::new();
        let stop = tokio::time::sleep(until);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Some(r) => { assert_eq!(&*r.device, "chest"); got.push((start.elapsed(), r.body)); }
                    None => break,
                },
                () = &mut stop => break,
            }
        }
        task.abort();
        got
    }

    fn times_of(log: &CallLog, what: &str, start: Instant) -> Vec<Duration> {
        log.lock().unwrap().iter().filter(|(w, _)| w == what).map(|(_, t)| *t - start).collect()
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_from_one_second_to_thirty() {
        let (link, log) = FakeLink::new(vec![]);
        let start = Instant::now();
        let got = run_for(link, None, secs(200.0)).await;
        let attempts = times_of(&log, "acquire", start);
        // 0, then waits of 1, 2, 4, 8, 16, 30, 30, …
        let expected: Vec<Duration> =
            [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 61.0, 91.0, 121.0, 151.0, 181.0].into_iter().map(secs).collect();
        assert_eq!(attempts, expected);
        // The outage is reported once, at once, not once per attempt.
        assert_eq!(got, vec![(secs(0.0), EventBody::Disconnected { reason: Some("not found".into()) })]);
    }

    #[tokio::test(start_paused = true)]
    async fn connection_announces_then_forwards_notifications() {
        let session = Session { events: beats(3, secs(1.0)) };
        let (link, _log) = FakeLink::new(vec![Ok((hr_device(), session))]);
        let got = run_for(link, None, secs(3.5)).await;
        let bodies: Vec<EventBody> = got.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(
            bodies[..4],
            [
                EventBody::Connected {
                    name: Some("HR".into()),
                    address: Some("00:AA:01:01:00:24".into()),
                    services: vec![0x180D, 0x180F]
                },
                EventBody::DeviceInfo(DeviceInfo { manufacturer: Some("ACME".into()), model: None, firmware: None }),
                EventBody::Notification {
                    characteristic: Characteristic::BatteryLevel,
                    payload: Payload::from_slice(&[87])
                },
                EventBody::Rssi(-50),
            ]
        );
        let hr_times: Vec<Duration> = got[4..].iter().map(|(t, _)| *t).collect();
        assert_eq!(hr_times, vec![secs(1.0), secs(2.0), secs(3.0)]);
        assert_eq!(
            got[6].1,
            EventBody::Notification {
                characteristic: Characteristic::HeartRateMeasurement,
                payload: Payload::from_slice(&[0x06, 62])
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn drop_is_reported_at_once_then_reacquired_and_resubscribed() {
        let mut first = beats(2, secs(1.0));
        first.push((secs(0.5), LinkEvent::Lost { reason: "link lost".into() }));
        let plan = vec![
            Ok((hr_device(), Session { events: first })),
            Err(AcquireError("not found".into())),
            Ok((hr_device(), Session { events: beats(2, secs(1.0)) })),
        ];
        let (link, log) = FakeLink::new(plan);
        let start = Instant::now();
        let got = run_for(link, None, secs(10.0)).await;

        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost, &(secs(2.5), EventBody::Disconnected { reason: Some("link lost".into()) }));
        // One Disconnected for the outage, though the first retry failed too.
        assert_eq!(got.iter().filter(|(_, b)| matches!(b, EventBody::Disconnected { .. })).count(), 1);
        // Dropped at 2.5 s: retry after 1 s (fails), then after 2 s more.
        assert_eq!(times_of(&log, "acquire", start), vec![secs(0.0), secs(3.5), secs(5.5)]);
        assert_eq!(times_of(&log, "release", start), vec![secs(2.5)]);
        // Subscribed again on the new connection.
        assert_eq!(times_of(&log, "subscribe 2a37", start), vec![secs(0.0), secs(5.5)]);
        let connected: Vec<Duration> =
            got.iter().filter(|(_, b)| matches!(b, EventBody::Connected { .. })).map(|(t, _)| *t).collect();
        assert_eq!(connected, vec![secs(0.0), secs(5.5)]);
        // Data flows again after the reconnection.
        let last = got.last().unwrap();
        assert_eq!(last.0, secs(7.5));
        assert!(matches!(last.1, EventBody::Notification { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_restarts_after_a_connection_that_delivered_data() {
        let lost = |after: f64| (secs(after), LinkEvent::Lost { reason: "link lost".into() });
        let mut first = beats(1, secs(1.0));
        first.push(lost(0.0));
        let plan = vec![
            Err(AcquireError("not found".into())),        // t=0, wait 1
            Err(AcquireError("not found".into())),        // t=1, wait 2
            Ok((hr_device(), Session { events: first })), // t=3, data at 4, lost at 4
            Err(AcquireError("not found".into())),        // t=5 (wait 1 again), wait 2
        ];
        let (link, log) = FakeLink::new(plan);
        let start = Instant::now();
        run_for(link, None, secs(8.0)).await;
        assert_eq!(times_of(&log, "acquire", start), vec![secs(0.0), secs(1.0), secs(3.0), secs(5.0), secs(7.0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn silent_stream_is_stale_after_five_seconds_and_reacquired() {
        // Two beats, then silence while "connected".
        let plan = vec![
            Ok((hr_device(), Session { events: beats(2, secs(1.0)) })),
            Ok((hr_device(), Session { events: beats(1, secs(1.0)) })),
        ];
        let (link, log) = FakeLink::new(plan);
        let start = Instant::now();
        let got = run_for(link, None, secs(10.0)).await;
        // Last beat at 2 s; learned interval 1 s → stale after max(5, 3) = 5 s.
        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost, &(secs(7.0), EventBody::Disconnected { reason: Some("stale: no data for 5 s".into()) }));
        assert_eq!(times_of(&log, "release", start), vec![secs(7.0)]);
        assert_eq!(times_of(&log, "acquire", start), vec![secs(0.0), secs(8.0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn stale_threshold_follows_a_slow_devices_learned_interval() {
        // Beats every 4 s: stale after 3 × 4 = 12 s of silence, not 5.
        let plan = vec![Ok((hr_device(), Session { events: beats(4, secs(4.0)) }))];
        let (link, _log) = FakeLink::new(plan);
        let got = run_for(link, None, secs(40.0)).await;
        // The interval is known after three gaps (at the fourth beat, 16 s);
        // the 4 s gaps before that stay under the 5 s floor.
        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost, &(secs(28.0), EventBody::Disconnected { reason: Some("stale: no data for 12 s".into()) }));
    }

    /// The watchdog's limit is the session's `[alarms.tech_stale]`, through
    /// the same `verdict::Staleness` the alarm engine and the dashboard use:
    /// with `min_s = 20` a silent stream is released at 20 s, not 5.
    #[tokio::test(start_paused = true)]
    async fn stale_threshold_follows_the_sessions_tech_stale_configuration() {
        let twenty = TechStale { min: secs(20.0), ..TechStale::default() };
        let plan = vec![Ok((hr_device(), Session { events: beats(2, secs(1.0)) }))];
        let (link, log) = FakeLink::new(plan);
        let start = Instant::now();
        let got = run_with(link, None, twenty.clone(), secs(30.0)).await;
        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost, &(secs(22.0), EventBody::Disconnected { reason: Some("stale: no data for 20 s".into()) }));
        assert_eq!(times_of(&log, "release", start), vec![secs(22.0)]);
        // The same limit the alarm engine and the dashboard read.
        let verdict = Staleness::default();
        assert_eq!(verdict.stale_after(&twenty), Some(secs(20.0)));
        // A large interval factor and a slow profile: 4 × 9 s = 36 s.
        let slow = TechStale { interval_factor: 4.0, ..twenty };
        let plan = vec![Ok((hr_device(), Session { events: beats(1, secs(1.0)) }))];
        let (link, _log) = FakeLink::new(plan);
        let got = run_with(link, Some(secs(9.0)), slow, secs(60.0)).await;
        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost, &(secs(37.0), EventBody::Disconnected { reason: Some("stale: no data for 36 s".into()) }));
    }

    #[tokio::test(start_paused = true)]
    async fn configured_interval_sets_the_stale_threshold() {
        let plan = vec![Ok((hr_device(), Session { events: beats(1, secs(1.0)) }))];
        let (link, _log) = FakeLink::new(plan);
        let got = run_for(link, Some(secs(3.0)), secs(20.0)).await;
        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost, &(secs(10.0), EventBody::Disconnected { reason: Some("stale: no data for 9 s".into()) }));
    }

    #[tokio::test(start_paused = true)]
    async fn intermittent_sensor_is_never_stale() {
        let thermo = Acquired { subscribed: vec![Characteristic::TemperatureMeasurement], ..Acquired::default() };
        let plan = vec![Ok((thermo, Session { events: vec![] }))];
        let (link, log) = FakeLink::new(plan);
        let start = Instant::now();
        let got = run_for(link, None, secs(3600.0)).await;
        assert!(!got.iter().any(|(_, b)| matches!(b, EventBody::Disconnected { .. })));
        assert_eq!(times_of(&log, "acquire", start), vec![secs(0.0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn battery_notifications_do_not_keep_a_silent_heart_rate_stream_alive() {
        let battery = |after: f64| {
            (secs(after), LinkEvent::Notification { characteristic: Characteristic::BatteryLevel, value: vec![80] })
        };
        let plan = vec![Ok((hr_device(), Session { events: vec![battery(2.0), battery(2.0), battery(2.0)] }))];
        let (link, _log) = FakeLink::new(plan);
        let got = run_for(link, None, secs(6.0)).await;
        let lost = got.iter().find(|(_, b)| matches!(b, EventBody::Disconnected { .. })).unwrap();
        assert_eq!(lost.0, secs(5.0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_ecg_start_is_reported_after_every_connection_and_a_refusal_with_its_reason() {
        let refused = EcgStart::Refused("the strap refused to start ECG: invalid state (status 12)".into());
        let (link, _log) = FakeLink::new(vec![
            Ok((
                ecg_strap(EcgStart::Started),
                Session { events: vec![(secs(1.0), hr(70)), (secs(1.0), LinkEvent::Lost { reason: "gone".into() })] },
            )),
            Ok((ecg_strap(refused), Session { events: beats(3, secs(1.0)) })),
        ]);
        let got = run_for(link, None, secs(10.0)).await;
        let ecg: Vec<(Duration, EventBody)> =
            got.into_iter().filter(|(_, b)| matches!(b, EventBody::EcgStatus { .. })).collect();
        assert_eq!(
            ecg,
            vec![
                (secs(0.0), EventBody::EcgStatus { started: true, reason: None }),
                (
                    secs(3.0),
                    EventBody::EcgStatus {
                        started: false,
                        reason: Some("the strap refused to start ECG: invalid state (status 12)".into())
                    }
                ),
            ],
            "one report per connection: started, then (after the drop and a 1-s backoff) refused"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_the_device_and_ends_the_supervisor() {
        let (mut link, log) =
            FakeLink::new(vec![Ok((ecg_strap(EcgStart::Started), Session { events: beats(100, secs(1.0)) }))]);
        let (tx, mut rx) = mpsc::channel(64);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let start = Instant::now();
        let task = tokio::spawn(async move {
            supervise("chest".into(), &mut link, None, TechStale::default(), tx, shutdown_rx).await;
        });
        let reader = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        tokio::time::sleep(secs(5.5)).await;
        shutdown.send(true).unwrap();
        task.await.unwrap();
        reader.abort();
        assert_eq!(times_of(&log, "stop", start), vec![secs(5.5)], "stopped once, when the session ended");
        assert!(times_of(&log, "acquire", start).len() == 1);
    }
}
