//! The dashboard's own small state (what is selected, which overlay is
//! open, what is being typed) and how actions change it. Everything that
//! concerns the session leaves as a [`UiCommand`]; the screen never changes
//! session state itself.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};

use super::keys::{Action, InputMode};
use super::prompt::{Prompt, PromptKind};
use super::theme::unacknowledged;
use crate::model::{AlarmStatus, OperatorAction};
use crate::snapshot::{ReplayControl, Snapshot, UiCommand};

/// The chart windows `+` and `-` step through.
pub const WINDOWS: [Duration; 4] =
    [Duration::from_secs(60), Duration::from_secs(5 * 60), Duration::from_secs(10 * 60), Duration::from_secs(30 * 60)];

/// How long a notice ("sent: ack all") stays in the status bar.
pub const NOTICE_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Limits,
    ConfirmQuit,
}

/// What the screen shows besides the snapshot. Time enters only through
/// the fields below, set by the event loop (or a test), so rendering is a
/// pure function of `(Snapshot, ViewState)`.
#[derive(Debug, Clone)]
pub struct ViewState {
    /// Index into `snapshot.devices` (clamped when drawn).
    pub selected: usize,
    pub overlay: Overlay,
    pub prompt: Option<Prompt>,
    /// Width of the recent-window charts.
    pub window: Duration,
    /// Real time since the dashboard started, advanced at each tick: the
    /// flash phase of alarm signals. Real rather than session time so that
    /// alarms keep flashing while a replay is paused.
    pub flash_clock: Duration,
    /// Local wall-clock time to show in the header.
    pub wall_clock: DateTime<FixedOffset>,
    /// Real time since the last new snapshot, once it exceeds
    /// [`super::STALL_AFTER`]: the screen may be showing an old picture.
    pub stalled_for: Option<Duration>,
    pub no_color: bool,
    pub replay: bool,
    /// Feedback for the last action and when it was given (`flash_clock`).
    pub notice: Option<(String, Duration)>,
}

impl ViewState {
    #[must_use]
    pub fn new(no_color: bool, replay: bool, wall_clock: DateTime<FixedOffset>) -> Self {
        Self {
            selected: 0,
            overlay: Overlay::None,
            prompt: None,
            window: WINDOWS[2],
            flash_clock: Duration::ZERO,
            wall_clock,
            stalled_for: None,
            no_color,
            replay,
            notice: None,
        }
    }

    #[must_use]
    pub fn input_mode(&self) -> InputMode {
        if self.overlay == Overlay::ConfirmQuit {
            InputMode::ConfirmQuit
        } else if self.prompt.is_some() {
            InputMode::Prompt
        } else {
            InputMode::Normal
        }
    }

    /// The notice to show now, if it is recent.
    #[must_use]
    pub fn current_notice(&self) -> Option<&str> {
        self.notice
            .as_ref()
            .filter(|(_, at)| self.flash_clock.saturating_sub(*at) < NOTICE_FOR)
            .map(|(text, _)| text.as_str())
    }

    fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), self.flash_clock));
    }

    fn open(&mut self, kind: PromptKind) {
        self.overlay = Overlay::None;
        self.prompt = Some(Prompt::new(kind));
    }

    fn toggle(&mut self, overlay: Overlay) {
        self.overlay = if self.overlay == overlay { Overlay::None } else { overlay };
    }

    /// Apply one action; returns what must be sent to the session.
    pub fn apply(&mut self, action: Action, snapshot: &Snapshot) -> Vec<UiCommand> {
        let op = |a: OperatorAction| vec![UiCommand::Operator(a)];
        match action {
            Action::AckTop => match top_alarm(&snapshot.alarms).filter(|a| unacknowledged(a)) {
                Some(a) => {
                    self.notify(format!("acknowledged {}", alarm_name(a)));
                    op(OperatorAction::Ack { alarm: Some(a.condition), device: a.device.as_deref().map(str::to_owned) })
                }
                None => {
                    self.notify("no alarm to acknowledge");
                    vec![]
                }
            },
            Action::AckAll => {
                self.notify("acknowledged all alarms");
                op(OperatorAction::Ack { alarm: None, device: None })
            }
            Action::AudioPause => {
                self.notify("audio paused");
                op(OperatorAction::AudioPause)
            }
            Action::Baseline => {
                self.notify("baseline marked");
                op(OperatorAction::Baseline { device: None })
            }
            Action::BeginDose => self.open_prompt(PromptKind::Dose),
            Action::BeginSupplementalDose => self.open_prompt(PromptKind::SupplementalDose),
            Action::BeginMarker => self.open_prompt(PromptKind::Marker),
            Action::BeginLimit => self.open_prompt(PromptKind::Limit),
            Action::BeginManual => self.open_prompt(PromptKind::Manual),
            Action::NextDevice | Action::PrevDevice => {
                let n = snapshot.devices.len().max(1);
                let current = self.selected.min(n - 1);
                self.selected = if action == Action::NextDevice { (current + 1) % n } else { (current + n - 1) % n };
                vec![]
            }
            Action::WiderWindow | Action::NarrowerWindow => {
                let i = WINDOWS.iter().position(|w| *w >= self.window).unwrap_or(WINDOWS.len() - 1);
                let i =
                    if action == Action::WiderWindow { (i + 1).min(WINDOWS.len() - 1) } else { i.saturating_sub(1) };
                self.window = WINDOWS[i];
                vec![UiCommand::SetWindow(self.window)]
            }
            Action::ToggleLimits => {
                self.toggle(Overlay::Limits);
                vec![]
            }
            Action::ToggleHelp => {
                self.toggle(Overlay::Help);
                vec![]
            }
            Action::CloseOverlay => {
                self.overlay = Overlay::None;
                vec![]
            }
            Action::RequestQuit => {
                self.prompt = None;
                self.overlay = Overlay::ConfirmQuit;
                vec![]
            }
            Action::ConfirmQuit => vec![UiCommand::Quit],
            Action::CancelQuit => {
                self.overlay = Overlay::None;
                vec![]
            }
            Action::ReplayTogglePause => self.replay_control(ReplayControl::TogglePause),
            Action::ReplayFaster => self.replay_control(ReplayControl::Faster),
            Action::ReplaySlower => self.replay_control(ReplayControl::Slower),
            Action::ReplayNextMark => self.replay_control(ReplayControl::NextMark),
            Action::PromptChar(c) => {
                if let Some(p) = &mut self.prompt {
                    p.push(c);
                }
                vec![]
            }
            Action::PromptBackspace => {
                if let Some(p) = &mut self.prompt {
                    p.backspace();
                }
                vec![]
            }
            Action::PromptCancel => {
                self.prompt = None;
                vec![]
            }
            Action::PromptSubmit => {
                let Some(p) = &mut self.prompt else { return vec![] };
                match p.submit(&snapshot.limits) {
                    Ok(actions) => {
                        let title = p.title();
                        self.prompt = None;
                        self.notify(format!("sent: {}", title.to_lowercase()));
                        actions.into_iter().map(UiCommand::Operator).collect()
                    }
                    Err(e) => {
                        p.error = Some(e);
                        vec![]
                    }
                }
            }
        }
    }

    fn open_prompt(&mut self, kind: PromptKind) -> Vec<UiCommand> {
        self.open(kind);
        vec![]
    }

    fn replay_control(&mut self, control: ReplayControl) -> Vec<UiCommand> {
        if self.replay {
            vec![UiCommand::Replay(control)]
        } else {
            self.notify("replay keys work only in replay");
            vec![]
        }
    }
}

/// The alarm the banner shows: the highest-priority unacknowledged alarm
/// (the newest among equals, as the snapshot orders them), else the
/// highest acknowledged one.
#[must_use]
pub fn top_alarm(alarms: &[AlarmStatus]) -> Option<&AlarmStatus> {
    let pick = |unacked: bool| {
        alarms.iter().filter(|a| unacknowledged(a) == unacked).fold(None, |best: Option<&AlarmStatus>, a| match best {
            Some(b) if b.priority >= a.priority => Some(b),
            _ => Some(a),
        })
    };
    pick(true).or_else(|| pick(false))
}

/// `hr.high chest` / `tech.recording`.
#[must_use]
pub fn alarm_name(alarm: &AlarmStatus) -> String {
    match &alarm.device {
        Some(d) => format!("{} {d}", alarm.condition),
        None => alarm.condition.to_string(),
    }
}
