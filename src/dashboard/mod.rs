//! The live terminal dashboard (ratatui): what the medical monitor in the
//! room sees and acts through.
//!
//! - [`render`] draws one frame from a [`Snapshot`] and a [`ViewState`];
//!   it only reads, so tests and benches call it on a `TestBackend`.
//! - [`run`] is the event loop: it wakes on a steady tick (for flashing
//!   and countdowns), on a new snapshot, on keys and resizes, but draws
//!   only when the picture would change ([`redraw`]): at once for alarms
//!   and safety states, at the next tick for other visible changes,
//!   never per sample, and not at all while nothing visible changes;
//!   maps keys to [`keys::Action`]s in one place; sends operator actions as
//!   [`UiCommand`]s; rings the terminal bell ([`bell`]).
//!
//! One file per screen region: [`header`], [`banner`], [`tiles`],
//! [`ecg`] (ECG strips), [`charts`], [`alarm_list`], [`status`], [`help`], [`limits`],
//! [`prompt`].

pub mod alarm_list;
pub mod banner;
pub mod bell;
pub mod charts;
pub mod ecg;
#[cfg(test)]
mod fixtures;
pub mod format;
pub mod header;
pub mod help;
pub mod keys;
pub mod limits;
mod plot;
pub mod prompt;
pub mod redraw;
pub mod status;
pub mod theme;
pub mod tiles;
pub mod view;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{self, Event};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use ratatui::{Frame, Terminal};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

pub use keys::Action;
pub use view::{Overlay, ViewState};

use crate::snapshot::{Mode, Snapshot, UiCommand};
use theme::Theme;
use tiles::TileSize;

/// Redraw rate: twice the fastest flash (2 Hz) so every on and off phase
/// is drawn, and often enough for countdowns.
pub const TICK: Duration = Duration::from_millis(250);

/// Real time without a new snapshot after which the screen says STALLED
/// and blanks its numbers. The pipeline publishes at a steady tick well
/// under this.
pub const STALL_AFTER: Duration = Duration::from_secs(2);

/// Key events waiting for the event loop. Keys come at human speed; a
/// small queue is plenty.
const KEY_QUEUE: usize = 64;

/// How often the key-reader thread checks whether the dashboard has gone.
/// Each check wakes the thread (at 5 Hz that was a measurable share of the
/// idle CPU); the only cost of a slow check is the thread outliving the
/// dashboard by up to this long.
const KEY_POLL: Duration = Duration::from_secs(1);

/// How the session starts the dashboard.
#[derive(Debug, Clone, Default)]
pub struct DashboardOptions {
    /// `NO_COLOR` is set: no colours, flashing shown by reverse video.
    pub no_color: bool,
    /// Replay transport keys (space, `<`, `>`, `n`) are live.
    pub replay: bool,
}

impl DashboardOptions {
    /// Whether `NO_COLOR` asks for no colour (set and not empty, as
    /// <https://no-color.org> defines it).
    #[must_use]
    pub fn no_color_from_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot set up or draw the terminal: {0}")]
    Terminal(#[source] io::Error),
    #[error("cannot read keys from the terminal: {0}")]
    Input(#[source] io::Error),
    #[error("the terminal key reader stopped unexpectedly")]
    InputClosed,
}

/// Restores the terminal when dropped: on a normal return, an error, or
/// when the session drops the dashboard's future. Panics are covered by
/// the hook `ratatui::try_init` installs.
struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Runs until the operator confirms quit (or the snapshot channel closes).
///
/// Operator actions and replay controls leave as [`UiCommand`]s on
/// `commands`; returning after `y` on the quit prompt is itself the quit
/// (a `UiCommand::Quit` is also sent, if the channel has room).
///
/// The loop expects a snapshot at least every [`STALL_AFTER`] while the
/// session runs (the pipeline's steady tick); a finished session or a
/// paused replay may go quiet without being called stalled.
pub async fn run(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    commands: mpsc::Sender<UiCommand>,
    opts: DashboardOptions,
) -> Result<(), DashboardError> {
    let mut terminal = ratatui::try_init().map_err(|e| {
        ratatui::restore();
        DashboardError::Terminal(e)
    })?;
    let _restore = RestoreOnDrop;
    let keys = spawn_key_reader("vigil-keys").map_err(DashboardError::Input)?;
    let io = LoopIo { terminal: &mut terminal, keys, ring: &mut ring, wall_clock: local_now };
    event_loop(io, &mut snapshots, &commands, &opts).await
}

/// Crossterm's async `EventStream` needs its `event-stream` feature, which
/// ratatui does not enable; rather than add crossterm as a direct
/// dependency, a plain thread blocks on `event::poll` and forwards events.
/// It ends by itself within [`KEY_POLL`] once the receiver is dropped.
/// The central station's screen reads its keys through it too.
pub(crate) fn spawn_key_reader(thread: &str) -> io::Result<mpsc::Receiver<io::Result<Event>>> {
    let (tx, rx) = mpsc::channel(KEY_QUEUE);
    std::thread::Builder::new().name(thread.into()).spawn(move || {
        while !tx.is_closed() {
            let next = match event::poll(KEY_POLL) {
                Ok(false) => continue,
                Ok(true) => event::read(),
                Err(e) => Err(e),
            };
            let failed = next.is_err();
            if tx.blocking_send(next).is_err() || failed {
                break;
            }
        }
    })?;
    Ok(rx)
}

fn local_now() -> chrono::DateTime<chrono::FixedOffset> {
    // Display only: nothing is decided by the wall clock.
    chrono::Local::now().fixed_offset()
}

/// The outside world of the event loop, injected so a test can drive it
/// on a `TestBackend` with paused time.
struct LoopIo<'a, B: Backend> {
    terminal: &'a mut Terminal<B>,
    keys: mpsc::Receiver<io::Result<Event>>,
    ring: &'a mut (dyn FnMut(&mut Terminal<B>) + Send),
    wall_clock: fn() -> chrono::DateTime<chrono::FixedOffset>,
}

async fn event_loop<B: Backend>(
    io: LoopIo<'_, B>,
    snapshots: &mut watch::Receiver<Arc<Snapshot>>,
    commands: &mpsc::Sender<UiCommand>,
    opts: &DashboardOptions,
) -> Result<(), DashboardError> {
    let LoopIo { terminal, mut keys, ring, wall_clock } = io;
    let start = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut snapshot = snapshots.borrow_and_update().clone();
    let mut view = ViewState::new(opts.no_color, opts.replay, wall_clock());
    view.window = snapshot.window;
    let mut last_new = start;
    let mut bell = bell::Bell::default();
    // What the screen shows: the snapshot and the time-driven face it was
    // drawn with. A redraw happens only when either would change it.
    let mut drawn = snapshot.clone();
    let mut face = redraw::Face::of(&snapshot, &view);
    let mut pending = redraw::Change::Now;
    // Whether the last frame drew an ECG trace: only then do new ECG
    // samples call for a frame.
    let mut ecg_visible = false;
    loop {
        if pending == redraw::Change::Now {
            terminal
                .draw(|f| {
                    render(f, &snapshot, &view);
                    ecg_visible = ecg_traced(f.area(), &snapshot, &view);
                })
                .map_err(|e| DashboardError::Terminal(io::Error::other(e.to_string())))?;
            drawn = snapshot.clone();
            face = redraw::Face::of(&snapshot, &view);
            pending = redraw::Change::Same;
        }
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                snapshot = snapshots.borrow_and_update().clone();
                last_new = Instant::now();
                // Safety-relevant changes (alarms, a reading going stale)
                // are drawn at once, other visible ones at the next tick,
                // the rest not at all: the session publishes several times
                // per tick and most of its snapshots differ only below the
                // screen's one-second resolution.
                pending = pending.max(redraw::change(&drawn, &snapshot));
                if ecg_visible && redraw::ecg_scrolled(&drawn, &snapshot) {
                    pending = pending.max(redraw::Change::Later);
                }
                if view.stalled_for.take().is_some() {
                    pending = redraw::Change::Now;
                }
            }
            at = tick.tick() => {
                // The scheduled instant, not "now": phases then alternate
                // exactly at each tick.
                view.flash_clock = at.saturating_duration_since(start);
                view.wall_clock = wall_clock();
                let quiet = at.saturating_duration_since(last_new);
                let may_pause = snapshot.finished || matches!(snapshot.mode, Mode::Replay { paused: true, .. });
                view.stalled_for = (quiet > STALL_AFTER && !may_pause).then_some(quiet);
                if bell.tick(view.flash_clock, &snapshot.alarms) {
                    ring(terminal);
                }
                if pending == redraw::Change::Later || redraw::Face::of(&snapshot, &view) != face {
                    pending = redraw::Change::Now;
                }
            }
            ev = keys.recv() => match ev {
                Some(Ok(Event::Key(key))) => {
                    let Some(action) = keys::action_for(key, view.input_mode()) else { continue };
                    for cmd in view.apply(action, &snapshot) {
                        if cmd == UiCommand::Quit {
                            let _ = commands.try_send(cmd);
                            return Ok(());
                        }
                        send(commands, cmd, &mut view);
                    }
                    pending = redraw::Change::Now;
                }
                Some(Ok(Event::Resize(..))) => pending = redraw::Change::Now,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(DashboardError::Input(e)),
                None => return Err(DashboardError::InputClosed),
            },
        }
    }
}

/// Never waits: a full command queue must not freeze the screen (the
/// STALLED banner and flashing depend on it), so the operator is told to
/// try again instead.
fn send(commands: &mpsc::Sender<UiCommand>, cmd: UiCommand, view: &mut ViewState) {
    match commands.try_send(cmd) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(cmd)) => {
            tracing::warn!(?cmd, "dashboard command queue full; action not sent");
            view.notice = Some(("session busy: action NOT sent, try again".into(), view.flash_clock));
        }
        Err(mpsc::error::TrySendError::Closed(cmd)) => {
            tracing::warn!(?cmd, "session stopped taking dashboard commands");
            view.notice = Some(("session is not taking actions".into(), view.flash_clock));
        }
    }
}

/// BEL through the terminal backend (never stdout directly: ratatui owns
/// the terminal). Failure to ring is logged, not fatal: the screen and
/// `--alarm-command` still alarm.
fn ring<W: io::Write>(terminal: &mut Terminal<CrosstermBackend<W>>) {
    let backend = terminal.backend_mut();
    if let Err(e) = io::Write::write_all(backend, b"\x07").and_then(|()| io::Write::flush(backend)) {
        tracing::warn!("cannot ring the terminal bell: {e}");
    }
}

/// Where each region goes in a frame of a given size.
#[derive(Debug, Default, Clone, Copy)]
struct Plan {
    header: Rect,
    stalled: Rect,
    banner: Rect,
    tiles: Rect,
    tile_size: Option<TileSize>,
    /// The ECG strips, and the braille rows of a live one.
    ecg: Rect,
    ecg_rows: u16,
    charts: Rect,
    list: Rect,
    status: Rect,
}

impl Plan {
    /// Regions claim rows in order of what matters most when the terminal
    /// is small: STALLED, the alarm banner, the clock, the status bar
    /// (audio pause), the device values, the alarm list, the ECG strips
    /// (taller when the charts keep room), then charts.
    fn new(area: Rect, snapshot: &Snapshot, view: &ViewState) -> Self {
        let mut rest = area.height;
        let take = |rest: &mut u16, want: u16| {
            let got = want.min(*rest);
            *rest -= got;
            got
        };
        let stalled = if snapshot.stalled || view.stalled_for.is_some() { take(&mut rest, 1) } else { 0 };
        let banner = take(&mut rest, 1);
        let header = take(&mut rest, 1);
        let status = take(&mut rest, 1);
        let n = u16::try_from(snapshot.devices.len().max(1)).unwrap_or(u16::MAX);
        let per_tile = area.width / n;
        let (tile_size, tiles) = if per_tile >= tiles::FULL_TILE_WIDTH && rest >= tiles::FULL_HEIGHT + 4 {
            (TileSize::Full, take(&mut rest, tiles::FULL_HEIGHT))
        } else if per_tile >= tiles::MIN_TILE_WIDTH && rest >= tiles::MEDIUM_HEIGHT + 2 {
            (TileSize::Medium, take(&mut rest, tiles::MEDIUM_HEIGHT))
        } else {
            (TileSize::Compact, take(&mut rest, n))
        };
        let alarms = u16::try_from(snapshot.alarms.len()).unwrap_or(u16::MAX);
        // Title row, column header, rows; "none" needs just two.
        let list_want = if alarms == 0 { 2 } else { (alarms + 2).min(7) };
        let mut list = if rest >= 2 { take(&mut rest, list_want) } else { 0 };
        let tall = ecg::rows_wanted(snapshot, ecg::TALL_ROWS);
        let ecg_rows =
            if tall > 0 && rest >= tall + 2 * charts::MIN_CHART_HEIGHT { ecg::TALL_ROWS } else { ecg::STRIP_ROWS };
        let ecg = take(&mut rest, ecg::rows_wanted(snapshot, ecg_rows));
        let has_charts = !charts::series(snapshot, view).is_empty();
        let charts = if has_charts && rest >= charts::MIN_CHART_HEIGHT { std::mem::take(&mut rest) } else { 0 };
        // Without charts, the list may use the room left.
        let more = alarms.saturating_sub(list.saturating_sub(2));
        list += take(&mut rest, more);
        let [header, stalled, banner, tiles, ecg, charts, list, _, status] = Layout::vertical([
            Constraint::Length(header),
            Constraint::Length(stalled),
            Constraint::Length(banner),
            Constraint::Length(tiles),
            Constraint::Length(ecg),
            Constraint::Length(charts),
            Constraint::Length(list),
            Constraint::Fill(1),
            Constraint::Length(status),
        ])
        .areas(area);
        Plan { header, stalled, banner, tiles, tile_size: Some(tile_size), ecg, ecg_rows, charts, list, status }
    }
}

/// Whether a frame of `area` draws an ECG trace (a live strip with room for
/// at least one row of it; none while the screen is stalled).
fn ecg_traced(area: Rect, snapshot: &Snapshot, view: &ViewState) -> bool {
    let strips = u16::try_from(ecg::devices(snapshot).count()).unwrap_or(u16::MAX);
    view.stalled_for.is_none() && strips > 0 && Plan::new(area, snapshot, view).ecg.height > strips
}

/// Draws one frame. Reads only: the snapshot, the view state, and no
/// clock (time comes in through `snapshot.now` and the view's clocks).
///
/// At 80×24 (the real frame of the high-alarm snapshot test; as the
/// terminal shrinks, charts go first, then the alarm list, and tiles turn
/// into one line per device — down to the STALLED and alarm banners):
///
/// ```text
///  LIVE  T+1:23:45 │ 10:23:45 │ dose +0:45:10 │ participant P-017         session clock
///  STALLED — no update for 5 s: values blanked …                         only when stalled
///  HIGH ▲ hr.high chest 152 bpm · escalated · since 1:23:03 · +1 more    alarm banner: colour
/// ╔ chest ═════ ● connected ╗┌ thermo ─── ● connected ┐┌ cuff ─── ● conn ┐  and flash by priority
/// ║╺┓  ┏━╸ ┏━┓  HR          ║│┏━┓ ╺━┓   ╻ ╻  Temp     ││SYS 128/82 mmHg  │  tiles: value large
/// ║ ┃  ┗━┓ ┏━┛  bpm         ║│╺━┫   ┃   ┗━┫  °C       ││measured 3 min   │  (or `--` and why),
/// ║╺┻╸ ┗━┛ ┗━╸              ║│┗━┛   ╹ ╹   ╹           ││Pulse 75 bpm     │  unit, age, HRV,
/// ║age 1 s · HRV 42 ms      ║│age 2 s                 ││bat 70% · 2 bad  │  other readings,
/// ║                         ║│                        ││                 │  contact, battery,
/// ║contact ✓ · bat 84% · -61║│bat 90% · -70 dBm       ││                 │  RSSI; ═ = selected
/// ╚═════════════════════════╝└────────────────────────┘└─────────────────┘
/// ┌ chest HR bpm · last 10 min ──────────────────┐┌ HR session 1:23:45 ─┐  charts per quantity:
/// │156│                                       ⡴ ││100│    ⣀⡄⣄⣤⣴⣰⣴⣦⣆⣦  │  recent window | whole
/// │77 │⠈⠉⠉⠉⠉    ⠉⠉⠉⠉⠁         ⠟    ││66 │⠘⠇⠁  ⡇       │  session (⡇ = marker)
/// └──────────────────────────────────────────────┘└─────────────────────┘  selected device first
///  alarms (2) ───────────────────────────────────────────────────────────  alarm list
///  PRI    ALARM              DEVICE   STATE           SINCE      VALUE  ACK
///  HIGH   hr.high            chest    escalated     1:23:03    152 bpm  no
///  LOW    hr.rise            chest    active        1:23:03     74 bpm  no
/// decode err 2 bad lines 0 drops 0 │ ? help │ rec 20261127T080000Z-P-…  status bar
/// ```
///
/// A device that streams ECG gets a strip between the tiles and the charts
/// ([`ecg`] has its sketch), or `ECG --` and why when its ECG is not live.
///
/// Overlays (help, limits, a prompt, the quit question) are drawn over the
/// middle.
pub fn render(frame: &mut Frame, snapshot: &Snapshot, view: &ViewState) {
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    let buf = frame.buffer_mut();
    draw(area, buf, snapshot, view);
}

fn draw(area: Rect, buf: &mut Buffer, snapshot: &Snapshot, view: &ViewState) {
    let theme = Theme::new(view.no_color);
    let plan = Plan::new(area, snapshot, view);
    header::Header { snapshot, view, theme }.render(plan.header, buf);
    if !plan.stalled.is_empty() {
        banner::StalledBanner { view, theme }.render(plan.stalled, buf);
    }
    banner::AlarmBanner { snapshot, view, theme }.render(plan.banner, buf);
    if let Some(size) = plan.tile_size.filter(|_| !plan.tiles.is_empty()) {
        tiles::Tiles { snapshot, view, theme, size }.render(plan.tiles, buf);
    }
    if !plan.ecg.is_empty() {
        ecg::EcgStrips { snapshot, view, theme, rows: plan.ecg_rows }.render(plan.ecg, buf);
    }
    if !plan.charts.is_empty() {
        charts::Charts { snapshot, view, theme }.render(plan.charts, buf);
    }
    if !plan.list.is_empty() {
        alarm_list::AlarmList { snapshot, theme }.render(plan.list, buf);
    }
    status::StatusBar { snapshot, view, theme }.render(plan.status, buf);

    // Overlays never cover the clock, the banners or the status bar: an
    // alarm must stay visible while the operator types or reads help.
    let top = plan.banner.bottom().max(plan.header.bottom());
    let middle = Rect { y: top, height: plan.status.y.saturating_sub(top), ..area };
    match view.overlay {
        Overlay::Help => help::Help { replay: view.replay, theme }.render(middle, buf),
        Overlay::Limits => limits::Limits { snapshot, theme }.render(middle, buf),
        Overlay::ConfirmQuit => ConfirmQuit.render(middle, buf),
        Overlay::None => {}
    }
    if let Some(p) = &view.prompt {
        prompt::PromptView { prompt: p, theme }.render(middle, buf);
    }
}

/// "Quit vigil? y/n".
#[derive(Debug)]
struct ConfirmQuit;

impl Widget for ConfirmQuit {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = popup(area, 50, 4);
        if area.is_empty() {
            return;
        }
        Clear.render(area, buf);
        Paragraph::new(vec![
            Line::raw("Monitoring and recording stop."),
            Line::raw("y: quit · n or Esc: keep monitoring"),
        ])
        .block(Block::bordered().title(" Quit vigil? "))
        .render(area, buf);
    }
}

/// A `width`×`height` rectangle centred in `area`, shrunk to fit.
fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlarmState, AlarmStatus, Condition, OperatorAction, Priority, SessionTime};
    use chrono::TimeZone;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    fn snapshot(alarms: Vec<AlarmStatus>) -> Snapshot {
        super::fixtures::snapshot(SessionTime::from_secs(60), alarms)
    }

    fn high() -> AlarmStatus {
        AlarmStatus {
            condition: Condition::HrHigh,
            device: Some("chest".into()),
            priority: Priority::High,
            state: AlarmState::Active,
            since: SessionTime::from_secs(50),
            changed: SessionTime::from_secs(50),
            value: Some(150.0),
            audible: true,
        }
    }

    fn fixed_wall() -> chrono::DateTime<chrono::FixedOffset> {
        chrono::FixedOffset::east_opt(0).unwrap().with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap()
    }

    fn key(c: char) -> io::Result<Event> {
        Ok(Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)))
    }

    fn screen(t: &Terminal<TestBackend>) -> String {
        let buf = t.backend().buffer();
        buf.content.iter().map(ratatui::buffer::Cell::symbol).collect()
    }

    /// The loop on a `TestBackend` with paused time: a new alarm shows and
    /// rings, silence for over 2 s shows STALLED, `a` sends an ack, `q`
    /// asks, `y` quits.
    #[tokio::test(start_paused = true)]
    async fn event_loop_shows_alarms_detects_stall_and_quits_on_confirmation() {
        let (snap_tx, mut snap_rx) = watch::channel(Arc::new(snapshot(Vec::new())));
        let (cmd_tx, mut cmd_rx) = mpsc::channel(8);
        let (key_tx, key_rx) = mpsc::channel(8);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut bells = 0u32;
        let mut ring = |_: &mut Terminal<TestBackend>| bells += 1;
        let io = LoopIo { terminal: &mut terminal, keys: key_rx, ring: &mut ring, wall_clock: fixed_wall };
        let opts = DashboardOptions::default();
        let driver = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            snap_tx.send(Arc::new(snapshot(vec![high()]))).unwrap();
            // No snapshot for 3 s: the screen must call itself stalled.
            tokio::time::sleep(Duration::from_secs(3)).await;
            key_tx.send(key('a')).await.unwrap();
            key_tx.send(key('q')).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            key_tx.send(key('y')).await.unwrap();
            // Keep the channels open until the loop has returned.
            std::future::pending::<()>().await;
        };
        let result = tokio::select! {
            r = event_loop(io, &mut snap_rx, &cmd_tx, &opts) => r,
            () = driver => unreachable!(),
        };
        result.unwrap();
        let text = screen(&terminal);
        assert!(text.contains("STALLED"), "{text}");
        assert!(text.contains("Quit vigil?"), "{text}");
        assert!(text.contains("hr.high"), "{text}");
        // High priority: a burst of three within the first second, then
        // again 5 s later — within 3.6 s, exactly three.
        assert_eq!(bells, 3);
        assert_eq!(
            cmd_rx.recv().await,
            Some(UiCommand::Operator(OperatorAction::Ack {
                alarm: Some(Condition::HrHigh),
                device: Some("chest".into())
            }))
        );
        assert_eq!(cmd_rx.recv().await, Some(UiCommand::Quit));
    }

    fn with_heart_rate(now_ms: u64, status: crate::snapshot::ReadingStatus) -> Snapshot {
        let mut s = snapshot(Vec::new());
        s.now = SessionTime::from_millis(now_ms);
        s.devices.push(super::fixtures::chest(72.0, Duration::from_millis(now_ms % 1000), status, vec![(0.0, 72.0)]));
        s
    }

    /// Snapshots every 100 ms that differ only in `now` and the age give
    /// one frame per shown second, not one per snapshot or per tick; a
    /// high alarm adds the frames its 2 Hz flash needs; a reading turning
    /// stale is drawn on arrival even within the same second and with no
    /// tick in between.
    #[tokio::test(start_paused = true)]
    async fn draws_only_when_the_picture_changes() {
        use crate::snapshot::ReadingStatus::{Live, Stale};
        let (snap_tx, mut snap_rx) = watch::channel(Arc::new(with_heart_rate(0, Live)));
        let (cmd_tx, _cmd_rx) = mpsc::channel(8);
        let (_key_tx, key_rx) = mpsc::channel(8);
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let mut ring = |_: &mut Terminal<TestBackend>| {};
        let io = LoopIo { terminal: &mut terminal, keys: key_rx, ring: &mut ring, wall_clock: fixed_wall };
        let driver = async {
            // 10 s quiet, then 2 s with a high alarm flashing.
            for i in 1..=120u64 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut s = with_heart_rate(i * 100 + 50, Live);
                if i > 100 {
                    s.alarms.push(high());
                }
                snap_tx.send(Arc::new(s)).unwrap();
            }
            // Just after the last one, within the same second.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let mut s = with_heart_rate(12_060, Stale);
            s.alarms.push(high());
            snap_tx.send(Arc::new(s)).unwrap();
            drop(snap_tx);
        };
        let opts = DashboardOptions::default();
        let (result, ()) = tokio::join!(event_loop(io, &mut snap_rx, &cmd_tx, &opts), driver);
        result.unwrap();
        let frames = terminal.get_frame().count();
        // 1 first frame + 10 second changes + 1 alarm onset + about 4 per
        // second of the flash (second changes coincide with flash phases),
        // + 1 for STALE. Ticking at 4 Hz unconditionally would be 49.
        assert!((18..=24).contains(&frames), "{frames} frames");
        let text = screen(&terminal);
        assert!(text.contains("STALE"), "{text}");
    }

    /// New ECG samples in every snapshot (10 per second) cost a frame per
    /// tick while a strip is drawn, and nothing more than the clock's
    /// frames on a terminal too small for the strip.
    #[tokio::test(start_paused = true)]
    async fn ecg_samples_redraw_only_a_visible_strip() {
        use crate::history::EcgPoint;
        use crate::snapshot::{EcgStatus, EcgStrip, ReadingStatus::Live};
        let with_ecg = |i: u64| {
            let mut s = with_heart_rate(i * 100 + 50, Live);
            let samples =
                (0..130).map(|k| EcgPoint { at_ns: (i * 100 + k) as i64 * 1_000_000, uv: (k % 9) as i32 * 100 });
            s.devices[0].ecg = Some(EcgStrip { status: EcgStatus::Live, rate_hz: 130.0, samples: samples.collect() });
            s
        };
        for (height, frames_within) in [(30, 38..=46), (6, 9..=13)] {
            let (snap_tx, mut snap_rx) = watch::channel(Arc::new(with_ecg(0)));
            let (cmd_tx, _cmd_rx) = mpsc::channel(8);
            let (_key_tx, key_rx) = mpsc::channel(8);
            let mut terminal = Terminal::new(TestBackend::new(100, height)).unwrap();
            let mut ring = |_: &mut Terminal<TestBackend>| {};
            let io = LoopIo { terminal: &mut terminal, keys: key_rx, ring: &mut ring, wall_clock: fixed_wall };
            let driver = async {
                for i in 1..=100u64 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    snap_tx.send(Arc::new(with_ecg(i))).unwrap();
                }
                drop(snap_tx);
            };
            let opts = DashboardOptions::default();
            let (result, ()) = tokio::join!(event_loop(io, &mut snap_rx, &cmd_tx, &opts), driver);
            result.unwrap();
            let frames = terminal.get_frame().count();
            assert!(frames_within.contains(&frames), "{height} rows: {frames} frames in 10 s");
        }
    }

    /// The end of the snapshot channel ends the dashboard cleanly.
    #[tokio::test(start_paused = true)]
    async fn closed_snapshot_channel_ends_the_loop() {
        let (snap_tx, mut snap_rx) = watch::channel(Arc::new(snapshot(Vec::new())));
        let (cmd_tx, _cmd_rx) = mpsc::channel(8);
        let (_key_tx, key_rx) = mpsc::channel(8);
        let mut terminal = Terminal::new(TestBackend::new(20, 5)).unwrap();
        let mut ring = |_: &mut Terminal<TestBackend>| {};
        let io = LoopIo { terminal: &mut terminal, keys: key_rx, ring: &mut ring, wall_clock: fixed_wall };
        drop(snap_tx);
        event_loop(io, &mut snap_rx, &cmd_tx, &DashboardOptions::default()).await.unwrap();
    }
}
