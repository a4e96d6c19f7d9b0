//! The station's screen: pure rendering of a [`Ward`] and a small
//! [`View`], and the keys that act on it.
//!
//! ```text
//!  vigil central · station · site ward · mqtt://127.0.0.1:1883 connected · 8 rooms · 16:00:00
//! ┌room-1 · P-007 ──────────┐┌room-2 ──────────────────┐┌room-3 ──────────────────┐
//! │HR 72 bpm     dose 1:02:03││HR --         dose --    ││...                      │
//! │T 36.8 °C  skin 34.1 °C  ││T --                     ││                         │
//! │SpO2 98 %   BP 120/80    ││SpO2 --     BP --        ││                         │
//! │hr.high            0.4 s ││COMM LOST           12 s ││                         │
//! └─────────────────────────┘└─────────────────────────┘└─────────────────────────┘
//!  Alarms (2)
//!  HIGH    room-1   hr.high          hr     active        16:00:03
//!  MEDIUM  room-2   tech.comm_lost          active        16:00:10
//!  ←→↑↓/Tab room  Enter detail  a ack  q quit
//! ```
//!
//! Detail (Enter): the room's header and numbers, its heart-rate and
//! temperature charts from the vitals received, and its alarms.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, BorderType, Chart, Dataset, GraphType, Paragraph};

use super::rooms::{Link, Room, RoomAlarm, Ward};
use crate::dashboard::theme::{Flash, Theme};
use crate::model::{Priority, Quantity};

/// Tile size: four lines of numbers inside a border.
pub const TILE_HEIGHT: u16 = 6;
pub const TILE_MIN_WIDTH: u16 = 28;
/// Most rows of the cross-room alarm list.
const ALARM_ROWS: u16 = 8;
/// How long the detail charts reach back.
pub const CHART_SPAN: Duration = Duration::from_secs(300);

/// What the operator is looking at.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Index of the selected room among the ward's rooms, in name order.
    pub selected: usize,
    pub detail: bool,
    pub quit_prompt: bool,
    /// A one-line message in the footer ("ack sent …").
    pub notice: Option<String>,
    pub no_color: bool,
    /// Flash phase (time since the screen started).
    pub flash: Duration,
}

/// Everything a frame shows besides the view: read only.
#[derive(Debug)]
pub struct Scene<'a> {
    pub ward: &'a Ward,
    pub station: &'a str,
    pub broker: &'a str,
    pub now: Instant,
    /// Local wall-clock time, as shown in the header.
    pub clock: &'a str,
    pub alarm_command_failing: bool,
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Next,
    Prev,
    Up,
    Down,
    Open,
    Back,
    Ack,
    Quit,
    ConfirmQuit,
    CancelQuit,
}

/// The action of `key`, if any.
#[must_use]
pub fn action(key: KeyCode, view: &View) -> Option<Action> {
    use KeyCode as K;
    if view.quit_prompt {
        return Some(match key {
            K::Char('y' | 'Y') => Action::ConfirmQuit,
            _ => Action::CancelQuit,
        });
    }
    Some(match key {
        K::Right | K::Tab => Action::Next,
        K::Left | K::BackTab => Action::Prev,
        K::Up => Action::Up,
        K::Down => Action::Down,
        K::Enter => Action::Open,
        K::Esc => Action::Back,
        K::Char('a') => Action::Ack,
        K::Char('q') => Action::Quit,
        _ => return None,
    })
}

impl View {
    /// Move the selection; `columns` tiles per row, `rooms` rooms in all.
    pub fn step(&mut self, action: Action, columns: usize, rooms: usize) {
        let last = rooms.saturating_sub(1);
        self.selected = match action {
            Action::Next => (self.selected + 1).min(last),
            Action::Prev => self.selected.saturating_sub(1),
            Action::Down => (self.selected + columns.max(1)).min(last),
            Action::Up => self.selected.saturating_sub(columns.max(1)),
            _ => self.selected,
        };
    }
}

/// Tiles per row at `width`.
#[must_use]
pub fn columns(width: u16) -> usize {
    usize::from((width / TILE_MIN_WIDTH).max(1))
}

/// Draw one frame.
pub fn render(f: &mut Frame, scene: &Scene, view: &View) {
    let area = f.area();
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    f.render_widget(header_line(scene, view), header);
    f.render_widget(footer_line(view), footer);
    if view.detail
        && let Some(room) = scene.ward.rooms().nth(view.selected)
    {
        detail(f, body, scene, view, room);
        return;
    }
    // Cut off from the broker, the station knows nothing current of any
    // room: only its own alarm is listed.
    let alarms = if scene.ward.broker_up() {
        scene.ward.alarm_list()
    } else {
        scene.ward.broker_alarm().map(|a| (None, a)).into_iter().collect()
    };
    let list_rows = u16::try_from(alarms.len()).unwrap_or(u16::MAX).clamp(1, ALARM_ROWS) + 1;
    let [tiles, list] = Layout::vertical([Constraint::Min(TILE_HEIGHT), Constraint::Length(list_rows)]).areas(body);
    render_tiles(f, tiles, scene, view);
    f.render_widget(alarm_list(&alarms, list.height, theme(view)), list);
}

fn theme(view: &View) -> Theme {
    Theme::new(view.no_color)
}

fn priority(name: &str) -> Priority {
    name.parse().unwrap_or(Priority::Low)
}

fn header_line<'a>(scene: &Scene<'a>, view: &View) -> Line<'a> {
    let theme = theme(view);
    let link = if scene.ward.broker_up() {
        Span::styled("connected", theme.fg(Color::Green))
    } else {
        Span::styled(" BROKER LOST ", alarm_style(theme, Priority::Medium, view.flash))
    };
    // The broker address last: a narrow screen cuts it first.
    let mut spans = vec![
        Span::styled(" vigil central", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(" · {} · {} · {} rooms · ", scene.clock, scene.ward.site(), scene.ward.rooms().len())),
        link,
    ];
    if scene.alarm_command_failing {
        spans.push(Span::styled(" · ALARM COMMAND FAILING", alarm_style(theme, Priority::Medium, view.flash)));
    }
    if scene.ward.bad > 0 {
        spans.push(Span::styled(format!(" · {} bad messages", scene.ward.bad), theme.dim()));
    }
    spans.push(Span::raw(format!(" · {} · {}", scene.broker, scene.station)));
    Line::from(spans)
}

fn footer_line(view: &View) -> Line<'static> {
    if view.quit_prompt {
        return Line::styled(" Quit the central station? y / n", Style::new().add_modifier(Modifier::BOLD));
    }
    let keys =
        if view.detail { " Esc back  a ack  q quit" } else { " ←→↑↓/Tab room  Enter detail  a ack  q quit" };
    let mut line = Line::raw(keys);
    if let Some(notice) = &view.notice {
        line.push_span(Span::styled(format!("   {notice}"), Style::new().add_modifier(Modifier::BOLD)));
    }
    line
}

/// A filled, flashing style for an alarm that asks for attention.
fn alarm_style(theme: Theme, p: Priority, flash: Duration) -> Style {
    let lit = Flash::for_priority(p).lit(flash);
    let bold = Style::new().add_modifier(Modifier::BOLD);
    match (theme.no_color, lit) {
        (true, true) => bold.add_modifier(Modifier::REVERSED),
        (true, false) => bold,
        (false, true) => {
            bold.fg(if p == Priority::High { Color::White } else { Color::Black }).bg(Theme::priority_color(p))
        }
        (false, false) => bold.fg(Theme::priority_color(p)),
    }
}

fn render_tiles(f: &mut Frame, area: Rect, scene: &Scene, view: &View) {
    let rooms: Vec<&Room> = scene.ward.rooms().collect();
    if rooms.is_empty() {
        let wait = if scene.ward.broker_up() { " No room has published yet." } else { " Connecting to the broker…" };
        f.render_widget(Paragraph::new(wait), area);
        return;
    }
    let cols = columns(area.width);
    let visible_rows = usize::from((area.height / TILE_HEIGHT).max(1));
    let selected_row = view.selected / cols;
    let first_row = selected_row.saturating_sub(visible_rows - 1);
    let width = area.width / u16::try_from(cols).unwrap_or(1);
    for (i, room) in rooms.iter().enumerate().skip(first_row * cols).take(visible_rows * cols) {
        let row = u16::try_from(i / cols - first_row).unwrap_or(0);
        let col = u16::try_from(i % cols).unwrap_or(0);
        let rect = Rect { x: area.x + col * width, y: area.y + row * TILE_HEIGHT, width, height: TILE_HEIGHT };
        tile(f, rect.intersection(area), scene, view, room, i == view.selected);
    }
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "--".to_owned(), |v| format!("{v:.digits$}"))
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn age(d: Duration) -> String {
    if d < Duration::from_secs(60) { format!("{:.1} s", d.as_secs_f64()) } else { format!("{} min", d.as_secs() / 60) }
}

/// The numbers of a room as lines: `--` for anything not live, and all of
/// them while the station itself is cut off.
fn numbers(room: &Room, broker_up: bool, now: Instant) -> [String; 3] {
    let v = |q: Quantity| if broker_up { room.value(q.as_str()) } else { None };
    let hr = v(Quantity::HeartRateBpm).or_else(|| v(Quantity::PulseRateBpm));
    let dose = if broker_up { room.since_dose(now).map_or_else(|| "--".to_owned(), hms) } else { "--".to_owned() };
    let bp = match (v(Quantity::SystolicMmhg), v(Quantity::DiastolicMmhg)) {
        (Some(s), Some(d)) => format!("{s:.0}/{d:.0}"),
        _ => "--".to_owned(),
    };
    [
        format!("HR {:>3} bpm  dose {dose}", fmt(hr, 0)),
        format!("T {} °C  skin {} °C", fmt(v(Quantity::BodyTemperatureC), 1), fmt(v(Quantity::SkinTemperatureC), 1)),
        format!("SpO2 {:>3} %  BP {bp}", fmt(v(Quantity::Spo2Pct), 0)),
    ]
}

fn tile(f: &mut Frame, area: Rect, scene: &Scene, view: &View, room: &Room, selected: bool) {
    let theme = theme(view);
    let broker_up = scene.ward.broker_up();
    let top = if broker_up { room.top_alarm() } else { None };
    let border = match &top {
        Some(a) => theme.fg(Theme::priority_color(priority(&a.priority))),
        None => theme.dim(),
    };
    let border = if selected { border.add_modifier(Modifier::BOLD) } else { border };
    let title = match room.participant() {
        Some(p) => format!("{} · {p}", room.name),
        None => room.name.clone(),
    };
    let block = Block::bordered()
        .border_type(if selected { BorderType::Double } else { BorderType::Plain })
        .border_style(border)
        .title(Span::styled(title, Style::new().add_modifier(Modifier::BOLD)));
    let [a, b, c] = numbers(room, broker_up, scene.now);
    let age_text = room.data_age(scene.now).map_or_else(|| "no data".to_owned(), age);
    let last = status_line(room, top.as_ref(), broker_up, theme, view.flash, &age_text);
    f.render_widget(Paragraph::new(vec![Line::raw(a), Line::raw(b), Line::raw(c), last]).block(block), area);
}

/// The tile's last line: what is wrong (or the room's state) and the age
/// of its data.
fn status_line(
    room: &Room,
    top: Option<&RoomAlarm>,
    broker_up: bool,
    theme: Theme,
    flash: Duration,
    age_text: &str,
) -> Line<'static> {
    let (text, style) = if !broker_up {
        ("UNKNOWN".to_owned(), alarm_style(theme, Priority::Medium, flash))
    } else if room.link() == Some(Link::CommLost) {
        ("COMM LOST".to_owned(), alarm_style(theme, Priority::Medium, flash))
    } else if let Some(a) = top {
        let p = priority(&a.priority);
        let style =
            if a.state == "acknowledged" { theme.fg(Theme::priority_color(p)) } else { alarm_style(theme, p, flash) };
        (a.alarm.clone(), style)
    } else {
        (room.link().map_or("waiting", <&str>::from).to_owned(), theme.dim())
    };
    Line::from(vec![Span::styled(text, style), Span::raw("  "), Span::styled(age_text.to_owned(), theme.dim())])
}

fn alarm_list(alarms: &[(Option<String>, RoomAlarm)], height: u16, theme: Theme) -> Paragraph<'static> {
    let mut lines =
        vec![Line::styled(format!(" Alarms ({})", alarms.len()), Style::new().add_modifier(Modifier::BOLD))];
    for (room, a) in alarms.iter().take(usize::from(height.saturating_sub(1))) {
        let p = priority(&a.priority);
        let mut style = theme.fg(Theme::priority_color(p));
        if a.state != "acknowledged" {
            style = style.add_modifier(Modifier::BOLD);
        }
        let onset = a.onset.get(11..19).unwrap_or(&a.onset);
        let text = format!(
            " {:<7} {:<10} {:<16} {:<8} {:<13} {onset}",
            a.priority.to_uppercase(),
            room.as_deref().unwrap_or("(station)"),
            a.alarm,
            a.device.as_deref().unwrap_or(""),
            a.state,
        );
        lines.push(Line::styled(text, style));
    }
    Paragraph::new(lines)
}

fn detail(f: &mut Frame, area: Rect, scene: &Scene, view: &View, room: &Room) {
    let theme = theme(view);
    let broker_up = scene.ward.broker_up();
    let alarms: Vec<(Option<String>, RoomAlarm)> =
        if broker_up { room.alarms().map(|a| (Some(room.name.clone()), a)).collect() } else { Vec::new() };
    let list_rows = u16::try_from(alarms.len()).unwrap_or(u16::MAX).clamp(1, ALARM_ROWS) + 1;
    let [head, charts, list] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(4), Constraint::Length(list_rows)]).areas(area);
    let [a, b, c] = numbers(room, broker_up, scene.now);
    let age_text = room.data_age(scene.now).map_or_else(|| "no data".to_owned(), age);
    let state = if broker_up { room.link().map_or("waiting", <&str>::from) } else { "unknown" };
    let title =
        format!(" {} · participant {} · {state} · data age {age_text}", room.name, room.participant().unwrap_or("--"));
    let head_lines = vec![
        Line::styled(title, Style::new().add_modifier(Modifier::BOLD)),
        Line::raw(format!(" {a}")),
        Line::raw(format!(" {b}")),
        Line::raw(format!(" {c}")),
    ];
    f.render_widget(Paragraph::new(head_lines), head);
    let [left, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    let live = broker_up && room.link() == Some(Link::Online);
    let hr: Vec<(f64, f64)> = series(room, scene.now, live, |p| p.hr);
    let temp: Vec<(f64, f64)> = series(room, scene.now, live, |p| p.temp);
    f.render_widget(chart("Heart rate (bpm)", &hr, theme.trace(Quantity::HeartRateBpm), theme), left);
    f.render_widget(chart("Temperature (°C)", &temp, theme.trace(Quantity::BodyTemperatureC), theme), right);
    f.render_widget(alarm_list(&alarms, list.height, theme), list);
}

/// Seconds before `now` (negative) and value, over [`CHART_SPAN`]; empty
/// while the room is not live, so no old trace passes for a current one.
fn series(
    room: &Room,
    now: Instant,
    live: bool,
    pick: impl Fn(&super::rooms::Point) -> Option<f64>,
) -> Vec<(f64, f64)> {
    if !live {
        return Vec::new();
    }
    room.history()
        .iter()
        .filter_map(|p| {
            let ago = now.saturating_duration_since(p.at);
            (ago <= CHART_SPAN).then_some(()).and(pick(p)).map(|v| (-ago.as_secs_f64(), v))
        })
        .collect()
}

fn chart<'a>(title: &'a str, points: &'a [(f64, f64)], style: Style, theme: Theme) -> Chart<'a> {
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, v)| (lo.min(*v), hi.max(*v)));
    let (lo, hi) = if lo.is_finite() { ((lo - 1.0).floor(), (hi + 1.0).ceil()) } else { (0.0, 1.0) };
    let data = Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).style(style).data(points);
    let span = CHART_SPAN.as_secs_f64();
    Chart::new(vec![data])
        .block(Block::bordered().title(title).border_style(theme.dim()))
        .x_axis(Axis::default().bounds([-span, 0.0]).labels(["-5 min", "now"]).style(theme.dim()))
        .y_axis(Axis::default().bounds([lo, hi]).labels([format!("{lo:.0}"), format!("{hi:.0}")]).style(theme.dim()))
}
