//! Every key the dashboard understands, mapped to an [`Action`] in this one
//! place. The help overlay ([`super::help`]) lists the same bindings.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the operator asked for. Applied to the view state by
/// [`super::ViewState::apply`], which turns the ones that concern the
/// session into [`crate::snapshot::UiCommand`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Acknowledge the alarm in the banner (the top unacknowledged one).
    AckTop,
    AckAll,
    AudioPause,
    /// Open the dose prompt (amount in mg).
    BeginDose,
    BeginSupplementalDose,
    /// Open the free-text marker prompt.
    BeginMarker,
    Baseline,
    BeginLimit,
    /// Open the manual reading prompt (cuff BP or oral temperature).
    BeginManual,
    NextDevice,
    PrevDevice,
    WiderWindow,
    NarrowerWindow,
    ToggleLimits,
    ToggleHelp,
    /// Close whatever overlay is open.
    CloseOverlay,
    /// `q` or Ctrl-C: ask for confirmation.
    RequestQuit,
    ConfirmQuit,
    CancelQuit,
    ReplayTogglePause,
    ReplayFaster,
    ReplaySlower,
    ReplayNextMark,
    PromptChar(char),
    PromptBackspace,
    PromptSubmit,
    PromptCancel,
}

/// What keys mean depends on what is on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    /// A prompt takes text.
    Prompt,
    /// "Quit vigil? y/n".
    ConfirmQuit,
}

/// The action for a key press, if any. Key releases and repeats of
/// non-text keys are ignored.
#[must_use]
pub fn action_for(key: KeyEvent, mode: InputMode) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        // In every mode, and a second Ctrl-C does not confirm: quitting
        // stops monitoring, so it takes a deliberate `y`.
        return Some(Action::RequestQuit);
    }
    match mode {
        InputMode::ConfirmQuit => match key.code {
            KeyCode::Char('y' | 'Y') => Some(Action::ConfirmQuit),
            KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::CancelQuit),
            _ => None,
        },
        InputMode::Prompt => match key.code {
            KeyCode::Enter => Some(Action::PromptSubmit),
            KeyCode::Esc => Some(Action::PromptCancel),
            KeyCode::Backspace => Some(Action::PromptBackspace),
            KeyCode::Char(c) if !ctrl => Some(Action::PromptChar(c)),
            _ => None,
        },
        InputMode::Normal if ctrl => None,
        InputMode::Normal => normal(key.code),
    }
}

fn normal(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Char('a') => Action::AckTop,
        KeyCode::Char('A') => Action::AckAll,
        KeyCode::Char('p') => Action::AudioPause,
        KeyCode::Char('d') => Action::BeginDose,
        KeyCode::Char('D') => Action::BeginSupplementalDose,
        KeyCode::Char('m') => Action::BeginMarker,
        KeyCode::Char('b') => Action::Baseline,
        KeyCode::Char('l') => Action::BeginLimit,
        KeyCode::Char('r') => Action::BeginManual,
        KeyCode::Tab | KeyCode::Right | KeyCode::Down => Action::NextDevice,
        KeyCode::BackTab | KeyCode::Left | KeyCode::Up => Action::PrevDevice,
        KeyCode::Char('+' | '=') => Action::WiderWindow,
        KeyCode::Char('-' | '_') => Action::NarrowerWindow,
        KeyCode::Char('L') => Action::ToggleLimits,
        KeyCode::Char('?') | KeyCode::F(1) => Action::ToggleHelp,
        KeyCode::Esc => Action::CloseOverlay,
        KeyCode::Char('q' | 'Q') => Action::RequestQuit,
        KeyCode::Char(' ') => Action::ReplayTogglePause,
        KeyCode::Char('>' | '.') => Action::ReplayFaster,
        KeyCode::Char('<' | ',') => Action::ReplaySlower,
        KeyCode::Char('n') => Action::ReplayNextMark,
        _ => return None,
    })
}

/// The bindings as the help overlay shows them: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("a / A", "acknowledge banner alarm / all alarms"),
    ("p", "audio pause (silence the bell for a while)"),
    ("d / D", "dose marker / supplemental dose (mg)"),
    ("m", "free-text marker"),
    ("b", "mark baseline (current values)"),
    ("l", "change a limit: condition priority value"),
    ("r", "manual reading: BP 150/95 or temp 37.8"),
    ("Tab ←→", "select device"),
    ("+ / -", "chart window 1, 5, 10, 30 min"),
    ("L", "alarm limits in force"),
    ("? F1", "this help"),
    ("q Ctrl-C", "quit (asks y/n)"),
];

/// Replay-only bindings.
pub const HELP_REPLAY: &[(&str, &str)] =
    &[("space", "pause / resume replay"), ("> / <", "faster / slower"), ("n", "jump to next alarm or marker")];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn ctrl_c_always_asks_for_confirmation() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [InputMode::Normal, InputMode::Prompt, InputMode::ConfirmQuit] {
            assert_eq!(action_for(ctrl_c, mode), Some(Action::RequestQuit));
        }
        assert_eq!(action_for(key(KeyCode::Char('y')), InputMode::ConfirmQuit), Some(Action::ConfirmQuit));
        assert_eq!(action_for(key(KeyCode::Char('q')), InputMode::ConfirmQuit), None);
    }

    #[test]
    fn prompt_mode_takes_letters_as_text() {
        assert_eq!(action_for(key(KeyCode::Char('q')), InputMode::Prompt), Some(Action::PromptChar('q')));
        assert_eq!(action_for(key(KeyCode::Char('a')), InputMode::Normal), Some(Action::AckTop));
        let shifted = KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT);
        assert_eq!(action_for(shifted, InputMode::Normal), Some(Action::AckAll));
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = key(KeyCode::Char('a'));
        k.kind = KeyEventKind::Release;
        assert_eq!(action_for(k, InputMode::Normal), None);
    }
}
