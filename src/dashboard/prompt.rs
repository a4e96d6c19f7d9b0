//! Input prompts: dose amount, free-text marker, limit change and manual
//! reading. Input is validated on Enter; a mistake shows an error line and
//! keeps the prompt open with the text as typed, it never crashes or sends
//! a half-understood action.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use super::theme::Theme;
use crate::excerpt::number as shown;
use crate::model::{Condition, Marker, MarkerKind, OperatorAction, Priority, Quantity};
use crate::snapshot::Limit;

/// Longest text a prompt accepts (a marker is a note, not an essay).
pub const MAX_INPUT: usize = 120;

/// Largest dose accepted, in mg: anything above is taken for a typo.
pub const MAX_DOSE_MG: f64 = 1000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    Dose,
    SupplementalDose,
    Marker,
    Limit,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
    /// Why the last Enter was refused.
    pub error: Option<String>,
    /// Characters typed or pasted past [`MAX_INPUT`] and left out, which
    /// the prompt says (a paste must not lose its end unnoticed).
    pub cut: usize,
}

impl Prompt {
    #[must_use]
    pub const fn new(kind: PromptKind) -> Self {
        Self { kind, input: String::new(), error: None, cut: 0 }
    }

    /// Take one typed character. Control characters, and the invisible
    /// ones that reorder or hide what follows (bidirectional overrides,
    /// zero-width characters), are dropped: what is stored is what the
    /// screen showed.
    pub fn push(&mut self, c: char) {
        if c.is_control() || crate::excerpt::is_invisible_format(c) {
            return;
        }
        if self.input.chars().count() < MAX_INPUT {
            self.input.push(c);
        } else {
            self.cut += 1;
        }
    }

    pub fn backspace(&mut self) {
        self.input.pop();
        self.cut = 0;
    }

    #[must_use]
    pub const fn title(&self) -> &'static str {
        match self.kind {
            PromptKind::Dose => "Dose marker",
            PromptKind::SupplementalDose => "Supplemental dose marker",
            PromptKind::Marker => "Marker",
            PromptKind::Limit => "Change a limit for this session",
            PromptKind::Manual => "Manual reading",
        }
    }

    #[must_use]
    pub const fn label(&self) -> &'static str {
        match self.kind {
            PromptKind::Dose | PromptKind::SupplementalDose => "mg",
            PromptKind::Marker => "text",
            PromptKind::Limit => "limit",
            PromptKind::Manual => "reading",
        }
    }

    #[must_use]
    pub const fn hint(&self) -> &'static str {
        match self.kind {
            PromptKind::Dose | PromptKind::SupplementalDose => "amount in mg, e.g. 120",
            PromptKind::Marker => "free text, e.g. patient nauseous",
            PromptKind::Limit => "condition priority value, e.g. hr.high medium 125",
            PromptKind::Manual => "cuff BP 150/95 (mmHg) or oral temperature 37.8 (°C)",
        }
    }

    /// The actions the input stands for, or why it cannot be used. `limits`
    /// are those in force, to refuse a priority a condition does not have.
    pub fn submit(&self, limits: &[Limit]) -> Result<Vec<OperatorAction>, String> {
        let text = self.input.trim();
        match self.kind {
            PromptKind::Dose => dose(text, MarkerKind::Dose, "dose"),
            PromptKind::SupplementalDose => dose(text, MarkerKind::SupplementalDose, "supplemental dose"),
            PromptKind::Marker => {
                if text.is_empty() {
                    return Err("type the marker text, or Esc to cancel".into());
                }
                Ok(vec![OperatorAction::Marker(Marker {
                    label: text.to_owned(),
                    kind: Some(MarkerKind::Note),
                    amount_mg: None,
                })])
            }
            PromptKind::Limit => limit(text, limits),
            PromptKind::Manual => manual(text),
        }
    }
}

fn number(text: &str, what: &str) -> Result<f64, String> {
    let v: f64 = text.parse().map_err(|_| format!("`{text}` is not a number ({what})"))?;
    if v.is_finite() { Ok(v) } else { Err(format!("`{text}` is not a usable number ({what})")) }
}

fn dose(text: &str, kind: MarkerKind, name: &str) -> Result<Vec<OperatorAction>, String> {
    let amount = text.strip_suffix("mg").unwrap_or(text).trim();
    if amount.is_empty() {
        return Err("type the amount in mg, or Esc to cancel".into());
    }
    let mg = number(amount, "mg")?;
    if mg <= 0.0 || mg > MAX_DOSE_MG {
        return Err(format!("{} mg is outside 0–{MAX_DOSE_MG} mg", shown(mg)));
    }
    Ok(vec![OperatorAction::Marker(Marker { label: format!("{name} {mg} mg"), kind: Some(kind), amount_mg: Some(mg) })])
}

fn limit(text: &str, limits: &[Limit]) -> Result<Vec<OperatorAction>, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [condition, priority, value] = words[..] else {
        return Err("give three words: condition priority value (hr.high medium 125)".into());
    };
    let condition = Condition::parse(condition).ok_or_else(|| {
        let names: Vec<&str> = Condition::ALL.iter().filter(|c| !c.is_technical()).map(|c| c.as_str()).collect();
        format!("unknown condition `{condition}`: one of {}", names.join(", "))
    })?;
    let priority: Priority = priority
        .parse()
        .map_err(|_| format!("unknown priority `{}`: low, medium or high", crate::excerpt::excerpt(priority)))?;
    let value = number(value, "limit value")?;
    // Only refuse when the pipeline published its limits; an empty list
    // means "not known here", and the pipeline validates the order anyway.
    if !limits.is_empty() && !limits.iter().any(|l| l.condition == condition && l.priority == priority) {
        return Err(format!("{condition} has no {priority}-priority limit (L shows the limits)"));
    }
    Ok(vec![OperatorAction::Limit { condition, priority, value }])
}

/// Plausible ranges for hand-entered readings; outside them it is a typo.
const SYSTOLIC: (f64, f64) = (50.0, 300.0);
const DIASTOLIC: (f64, f64) = (20.0, 200.0);
const ORAL_TEMP_C: (f64, f64) = (30.0, 45.0);

fn manual(text: &str) -> Result<Vec<OperatorAction>, String> {
    if text.is_empty() {
        return Err("type 150/95 or 37.8, or Esc to cancel".into());
    }
    if let Some((sys, dia)) = text.split_once('/') {
        let sys = number(sys.trim(), "systolic mmHg")?;
        let dia = number(dia.trim(), "diastolic mmHg")?;
        if !(SYSTOLIC.0..=SYSTOLIC.1).contains(&sys) {
            return Err(format!("systolic {} is outside {}–{} mmHg", shown(sys), SYSTOLIC.0, SYSTOLIC.1));
        }
        if !(DIASTOLIC.0..=DIASTOLIC.1).contains(&dia) {
            return Err(format!("diastolic {} is outside {}–{} mmHg", shown(dia), DIASTOLIC.0, DIASTOLIC.1));
        }
        if dia >= sys {
            return Err("systolic comes first and must be above diastolic (150/95)".into());
        }
        return Ok(vec![
            OperatorAction::Manual { quantity: Quantity::SystolicMmhg, value: sys },
            OperatorAction::Manual { quantity: Quantity::DiastolicMmhg, value: dia },
        ]);
    }
    let t = text.trim_end_matches(['c', 'C']).trim_end_matches('°').trim();
    let celsius = number(t, "°C")?;
    if !(ORAL_TEMP_C.0..=ORAL_TEMP_C.1).contains(&celsius) {
        return Err(format!(
            "{} is outside {}–{} °C (give °C, or BP as 150/95)",
            shown(celsius),
            ORAL_TEMP_C.0,
            ORAL_TEMP_C.1
        ));
    }
    Ok(vec![OperatorAction::Manual { quantity: Quantity::BodyTemperatureC, value: celsius }])
}

/// The prompt as a small window over the middle of the screen.
#[derive(Debug)]
pub struct PromptView<'a> {
    pub prompt: &'a Prompt,
    pub theme: Theme,
}

impl Widget for PromptView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let p = self.prompt;
        let area = super::popup(area, 64, 6);
        if area.is_empty() {
            return;
        }
        Clear.render(area, buf);
        let mut lines = vec![
            Line::from(vec![Span::raw(format!("{}> ", p.label())), Span::raw(p.input.as_str()), Span::raw("_")]),
            Line::from(Span::styled(p.hint(), self.theme.dim())),
        ];
        match (&p.error, p.cut) {
            (Some(e), _) => lines.push(Line::from(Span::styled(e.as_str(), self.theme.bad()))),
            (None, 0) => lines.push(Line::raw("")),
            (None, cut) => lines.push(Line::from(Span::styled(
                format!("cut at {MAX_INPUT} characters: {cut} more left out"),
                self.theme.bad(),
            ))),
        }
        lines.push(Line::from(Span::styled("Enter confirm · Esc cancel", self.theme.dim())));
        Paragraph::new(lines).block(Block::bordered().title(format!(" {} ", p.title()))).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(kind: PromptKind, input: &str) -> Result<Vec<OperatorAction>, String> {
        let mut p = Prompt::new(kind);
        input.chars().for_each(|c| p.push(c));
        p.submit(&[])
    }

    #[test]
    fn dose_takes_mg_and_refuses_nonsense() {
        let ok = submit(PromptKind::Dose, "120 mg").unwrap();
        assert_eq!(
            ok,
            vec![OperatorAction::Marker(Marker {
                label: "dose 120 mg".into(),
                kind: Some(MarkerKind::Dose),
                amount_mg: Some(120.0)
            })]
        );
        assert!(submit(PromptKind::SupplementalDose, "60").is_ok());
        for bad in ["", "abc", "-5", "0", "5000", "NaN", "inf"] {
            assert!(submit(PromptKind::Dose, bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn manual_reads_bp_or_temperature() {
        assert_eq!(
            submit(PromptKind::Manual, "150/95").unwrap(),
            vec![
                OperatorAction::Manual { quantity: Quantity::SystolicMmhg, value: 150.0 },
                OperatorAction::Manual { quantity: Quantity::DiastolicMmhg, value: 95.0 },
            ]
        );
        assert_eq!(
            submit(PromptKind::Manual, "37.8 °C").unwrap(),
            vec![OperatorAction::Manual { quantity: Quantity::BodyTemperatureC, value: 37.8 }]
        );
        for bad in ["95/150", "150/", "/95", "98.6", "x", "150/95/80", ""] {
            assert!(submit(PromptKind::Manual, bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn limit_checks_each_word() {
        assert_eq!(
            submit(PromptKind::Limit, "hr.high medium 125").unwrap(),
            vec![OperatorAction::Limit { condition: Condition::HrHigh, priority: Priority::Medium, value: 125.0 }]
        );
        let err = submit(PromptKind::Limit, "hr.hgh medium 125").unwrap_err();
        assert!(err.contains("unknown condition"), "{err}");
        assert!(submit(PromptKind::Limit, "hr.high urgent 125").is_err());
        assert!(submit(PromptKind::Limit, "hr.high medium").is_err());
        let limits = [crate::snapshot::Limit {
            condition: Condition::HrHigh,
            priority: Priority::Low,
            rule: crate::snapshot::LimitRule::Threshold {
                direction: crate::config::Direction::Above,
                threshold: 100.0,
                unit: "bpm",
                onset: std::time::Duration::from_secs(60),
            },
        }];
        let mut p = Prompt::new(PromptKind::Limit);
        p.input = "hr.high medium 125".into();
        assert!(p.submit(&limits).unwrap_err().contains("no medium-priority"));
    }

    fn rendered(p: &Prompt) -> String {
        let area = Rect::new(0, 0, 80, 12);
        let mut buf = Buffer::empty(area);
        PromptView { prompt: p, theme: Theme::new(true) }.render(area, &mut buf);
        (0..area.height).map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n").collect()
    }

    /// A paste longer than the limit is not cut without a word.
    #[test]
    fn input_cut_at_the_limit_says_so() {
        let mut p = Prompt::new(PromptKind::Marker);
        (0..MAX_INPUT).for_each(|_| p.push('x'));
        assert!(!rendered(&p).contains("cut"), "{}", rendered(&p));
        (0..30).for_each(|_| p.push('y'));
        assert_eq!(p.input.chars().count(), MAX_INPUT);
        let screen = rendered(&p);
        assert!(screen.contains("cut at 120") && screen.contains("30"), "{screen}");
        // Making room clears the notice.
        p.backspace();
        assert!(!rendered(&p).contains("cut"), "{}", rendered(&p));
    }

    /// Bidirectional overrides and isolates show as nothing on screen but
    /// reorder what follows: dropped like control characters.
    #[test]
    fn bidi_overrides_are_dropped_like_control_characters() {
        let mut p = Prompt::new(PromptKind::Marker);
        "dose\u{202E}gm 021\u{2066}x\u{2069}\u{202A}\u{200F}".chars().for_each(|c| p.push(c));
        assert_eq!(p.input, "dosegm 021x");
    }

    #[test]
    fn marker_needs_text_and_input_is_bounded() {
        assert!(submit(PromptKind::Marker, "   ").is_err());
        let mut p = Prompt::new(PromptKind::Marker);
        (0..500).for_each(|_| p.push('x'));
        p.push('\u{7}');
        assert_eq!(p.input.len(), MAX_INPUT);
    }
}
