//! The station's terminal loop: broker events, ticks and keys in; frames,
//! the bell and acknowledgements out. Rendering is [`super::screen`].

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use ratatui::crossterm::event::{Event, KeyEventKind};
use tokio::sync::mpsc;

use super::rooms::{Line, Now};
use super::screen::{self, Action, Scene, View};
use super::{HEARTBEAT, LinkEvent, Station, TICK};

struct RestoreOnDrop;

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

pub(super) async fn run(mut station: Station, mut events: mpsc::Receiver<LinkEvent>) -> anyhow::Result<ExitCode> {
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let _restore = RestoreOnDrop;
    let mut keys = crate::dashboard::spawn_key_reader("vigil-central-keys").context("cannot read the keyboard")?;
    let started = Instant::now();
    let mut view = View { no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()), ..View::default() };
    let mut tick = tokio::time::interval(TICK);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let broker = station.url.to_string();
    loop {
        let lines: Vec<Line> = tokio::select! {
            event = events.recv() => match event {
                Some(event) => station.on_link(event, Now::real()),
                None => anyhow::bail!("the broker link stopped unexpectedly"),
            },
            _ = tick.tick() => station.tick(Now::real()),
            _ = heartbeat.tick() => {
                station.heartbeat();
                continue;
            }
            key = keys.recv() => {
                let Some(key) = key else { anyhow::bail!("the key reader stopped unexpectedly") };
                let Event::Key(key) = key.context("cannot read the keyboard")? else { continue };
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let columns = screen::columns(terminal.size().map(|s| s.width).unwrap_or(80));
                if let Some(action) = screen::action(key.code, &view)
                    && act(action, &mut view, &station, columns)
                {
                    break;
                }
                Vec::new()
            }
        };
        if lines.iter().any(new_high_alarm) {
            // The terminal bell; --alarm-command is the dependable signal.
            let _ = io::stdout().write_all(b"\x07").and_then(|()| io::stdout().flush());
        }
        view.flash = started.elapsed();
        let clock = chrono::Local::now().format("%H:%M:%S").to_string();
        let failing = station.alarm_command_failing();
        let scene = Scene {
            ward: &station.ward,
            station: &station.name,
            broker: &broker,
            now: Instant::now(),
            clock: &clock,
            alarm_command_failing: failing,
        };
        terminal.draw(|f| screen::render(f, &scene, &view)).context("cannot draw the screen")?;
    }
    drop(terminal);
    station.finish().await;
    Ok(ExitCode::SUCCESS)
}

fn new_high_alarm(line: &Line) -> bool {
    matches!(line, Line::Alarm(a) if a.priority == "high" && a.state == "active")
}

/// Carry out `action`; `true` to quit.
fn act(action: Action, view: &mut View, station: &Station, columns: usize) -> bool {
    let rooms = station.ward.rooms().len();
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

fn ack(station: &Station, selected: usize) -> String {
    let Some(room) = station.ward.rooms().nth(selected) else { return "no room selected".to_owned() };
    let Some(alarm) = room.ack_target() else { return format!("{}: no alarm to acknowledge", room.name) };
    match station.ack(&room.name, &alarm.alarm, alarm.device.as_deref()) {
        Ok(()) => format!("ack sent: {} {} (the bedside decides)", room.name, alarm.alarm),
        Err(e) => format!("ack not sent: {e:#}"),
    }
}
