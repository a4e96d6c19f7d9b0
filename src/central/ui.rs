//! The station's terminal: keys in; frames, the bell and acknowledgements
//! out. Rendering is [`super::screen`]; the loop that feeds it is
//! [`super::serve`].

use std::io::{self, Write};
use std::time::Instant;

use anyhow::Context;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{Event, KeyEvent, KeyEventKind};
use tokio::sync::mpsc;

use super::Station;
use super::rooms::{AckResult, Line};
use super::screen::{self, Action, Scene, View};

/// The terminal, its key reader and what the operator is looking at.
pub(super) struct Screen {
    terminal: DefaultTerminal,
    keys: mpsc::Receiver<io::Result<Event>>,
    view: View,
    started: Instant,
}

impl Screen {
    pub(super) fn start() -> anyhow::Result<Self> {
        let terminal = ratatui::try_init().context("cannot set up the terminal")?;
        let keys = crate::dashboard::spawn_key_reader("vigil-central-keys").inspect_err(|_| ratatui::restore());
        Ok(Self {
            terminal,
            keys: keys.context("cannot read the keyboard")?,
            view: View { no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()), ..View::default() },
            started: Instant::now(),
        })
    }

    /// The next key press.
    pub(super) async fn key(&mut self) -> anyhow::Result<KeyEvent> {
        loop {
            let Some(event) = self.keys.recv().await else { anyhow::bail!("the key reader stopped unexpectedly") };
            if let Event::Key(key) = event.context("cannot read the keyboard")?
                && key.kind == KeyEventKind::Press
            {
                return Ok(key);
            }
        }
    }

    /// Carry out what `key` asks; `true` to quit.
    pub(super) fn on_key(&mut self, key: KeyEvent, station: &Station) -> bool {
        let columns = screen::columns(self.terminal.size().map(|s| s.width).unwrap_or(80));
        let Some(action) = screen::action(key.code, &self.view) else { return false };
        let rooms = station.ward.rooms().len();
        let view = &mut self.view;
        match action {
            Action::Next | Action::Prev | Action::Up | Action::Down => view.step(action, columns, rooms),
            Action::Open => view.detail = rooms > 0,
            Action::Back => view.detail = false,
            Action::Quit => view.quit_prompt = true,
            Action::CancelQuit => view.quit_prompt = false,
            Action::ConfirmQuit => return true,
            Action::Ack => view.notice = Some(ack(station, view.selected)),
        }
        false
    }

    /// Ring for a new high alarm, and note the bedsides' answers to this
    /// station's acknowledgements.
    pub(super) fn note(&mut self, station: &Station, lines: &[Line]) {
        if lines.iter().any(new_high_alarm) {
            // The terminal bell; --alarm-command is the dependable signal.
            let _ = io::stdout().write_all(b"\x07").and_then(|()| io::stdout().flush());
        }
        for line in lines {
            if let Line::Ack(a) = line
                && a.station == station.name
            {
                let alarm = a.alarm.as_deref().unwrap_or("every alarm");
                self.view.notice = Some(match a.result {
                    AckResult::Obeyed => format!("{}: {alarm} acknowledged by the bedside", a.room),
                    AckResult::Refused => format!("{}: {alarm} ack refused by the bedside", a.room),
                });
            }
        }
    }

    pub(super) fn draw(&mut self, station: &Station) -> anyhow::Result<()> {
        self.view.flash = self.started.elapsed();
        let clock = chrono::Local::now().format("%H:%M:%S").to_string();
        let broker = station.url.to_string();
        let scene = Scene {
            ward: &station.ward,
            station: &station.name,
            broker: &broker,
            now: Instant::now(),
            clock: &clock,
            alarm_command_failing: station.alarm_command_failing(),
        };
        let view = &self.view;
        self.terminal.draw(|f| screen::render(f, &scene, view)).context("cannot draw the screen")?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

fn new_high_alarm(line: &Line) -> bool {
    matches!(line, Line::Alarm(a) if a.priority == "high" && a.state == "active")
}

fn ack(station: &Station, selected: usize) -> String {
    let Some(room) = station.ward.rooms().nth(selected) else { return "no room selected".to_owned() };
    let Some(alarm) = room.ack_target() else { return format!("{}: no alarm to acknowledge", room.name) };
    match station.ack(&room.name, &alarm.alarm, alarm.device.as_deref()) {
        Ok(()) => format!("ack sent: {} {} (the bedside decides)", room.name, alarm.alarm),
        Err(e) => format!("ack not sent: {e:#}"),
    }
}
