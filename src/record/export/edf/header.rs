//! The EDF+ header and the 16-bit samples of the vitals signals.
//!
//! Every header field is printable ASCII, left-aligned and padded with
//! spaces to its width (EDF specification, 1992; EDF+ 2003). A value that
//! does not fit its field is an error, never silently cut: the labels are
//! made to fit before they get here.

use chrono::{DateTime, Utc};

use crate::model::Quantity;

/// Digital range of every signal: the whole of a 16-bit sample.
pub const DIGITAL_MIN: i16 = i16::MIN;
pub const DIGITAL_MAX: i16 = i16::MAX;

/// The sample of a second with no value to show (nothing valid within the
/// staleness limit): the digital minimum, which no measured value takes
/// (see [`digital`]).
pub const NO_VALUE: i16 = DIGITAL_MIN;

/// Longest signal label (EDF: 16 characters).
pub const LABEL_WIDTH: usize = 16;

/// The label of the EDF+ annotations signal (the standard's spelling).
pub const ANNOTATIONS_LABEL: &str = "EDF Annotations";

/// A vital's physical dimension and the fixed physical range its samples
/// span; `None` for the quantities the export leaves out (RR intervals,
/// energy). The ranges are wider than any plausible value (`verdict`), so
/// a valid value is never clipped, and fixed, so every export of every
/// recording scales a quantity alike.
#[must_use]
pub const fn vital(quantity: Quantity) -> Option<(&'static str, f64, f64)> {
    match quantity {
        Quantity::HeartRateBpm | Quantity::PulseRateBpm => Some(("bpm", 0.0, 300.0)),
        Quantity::BodyTemperatureC | Quantity::SkinTemperatureC | Quantity::AmbientTemperatureC => {
            Some(("degC", -20.0, 60.0))
        }
        Quantity::Spo2Pct | Quantity::BatteryPct => Some(("%", 0.0, 100.0)),
        Quantity::SystolicMmhg | Quantity::DiastolicMmhg | Quantity::MapMmhg => Some(("mmHg", 0.0, 300.0)),
        Quantity::RrIntervalMs | Quantity::EnergyExpendedKj => None,
    }
}

/// A physical value as a digital sample of the range `[min, max]`: the
/// linear map of EDF (`min` ↦ −32768, `max` ↦ 32767), rounded to the
/// nearest step, and held to −32767..=32767 so that a value at or below
/// `min` stays distinguishable from [`NO_VALUE`].
#[must_use]
pub fn digital(value: f64, min: f64, max: f64) -> i16 {
    let steps = f64::from(DIGITAL_MAX) - f64::from(DIGITAL_MIN);
    let d = ((value - min) / (max - min)).mul_add(steps, f64::from(DIGITAL_MIN)).round();
    // The clamp keeps the cast in range (NaN casts to 0; no caller passes one).
    #[allow(clippy::cast_possible_truncation)]
    let d = d.clamp(f64::from(DIGITAL_MIN) + 1.0, f64::from(DIGITAL_MAX)) as i16;
    d
}

/// One signal's header fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub label: String,
    pub transducer: String,
    pub dimension: String,
    pub physical_min: f64,
    pub physical_max: f64,
    pub samples_per_record: usize,
}

impl Signal {
    /// The EDF+ annotations signal with `bytes` bytes per data record
    /// (even: two bytes a sample).
    #[must_use]
    pub fn annotations(bytes: usize) -> Signal {
        Signal {
            label: ANNOTATIONS_LABEL.to_owned(),
            transducer: String::new(),
            dimension: String::new(),
            // Unused by readers, but EDF wants two different numbers.
            physical_min: -1.0,
            physical_max: 1.0,
            samples_per_record: bytes / 2,
        }
    }
}

/// The fixed header of an EDF+C file of 1-second data records.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Pseudonym code of the participant (the only patient subfield vigil
    /// knows); `None`: unknown.
    pub participant: Option<String>,
    /// Start of the first data record, on a whole second.
    pub start: DateTime<Utc>,
    pub records: u64,
    pub signals: Vec<Signal>,
}

impl Header {
    /// Bytes in the header: 256, and 256 per signal.
    #[must_use]
    pub fn len(&self) -> usize {
        256 * (1 + self.signals.len())
    }

    /// The header's bytes; an error names the field that does not fit.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(self.len());
        // EDF+ patient subfields: code, sex, birthdate, name; `X`: unknown.
        let patient = format!("{} X X X", self.participant.as_deref().unwrap_or("X"));
        // EDF+ recording subfields: start date, admin code, investigator,
        // equipment.
        let recording = format!(
            "Startdate {}-{}-{} X X vigil",
            self.start.format("%d"),
            month(&self.start),
            self.start.format("%Y")
        );
        field(&mut out, "version", "0", 8)?;
        field(&mut out, "patient", &patient, 80)?;
        field(&mut out, "recording", &recording, 80)?;
        // EDF's two-digit year: 1985–2084; the recording field above has
        // the whole date (EDF+).
        field(&mut out, "startdate", &self.start.format("%d.%m.%y").to_string(), 8)?;
        field(&mut out, "starttime", &self.start.format("%H.%M.%S").to_string(), 8)?;
        field(&mut out, "header bytes", &self.len().to_string(), 8)?;
        field(&mut out, "reserved", "EDF+C", 44)?;
        field(&mut out, "data records", &self.records.to_string(), 8)?;
        field(&mut out, "record duration", "1", 8)?;
        field(&mut out, "signals", &self.signals.len().to_string(), 4)?;
        let each = |out: &mut Vec<u8>, name: &str, width: usize, f: &dyn Fn(&Signal) -> String| {
            self.signals.iter().try_for_each(|s| field(out, &format!("{name} of `{}`", s.label), &f(s), width))
        };
        each(&mut out, "label", LABEL_WIDTH, &|s| s.label.clone())?;
        each(&mut out, "transducer", 80, &|s| s.transducer.clone())?;
        each(&mut out, "physical dimension", 8, &|s| s.dimension.clone())?;
        each(&mut out, "physical minimum", 8, &|s| s.physical_min.to_string())?;
        each(&mut out, "physical maximum", 8, &|s| s.physical_max.to_string())?;
        each(&mut out, "digital minimum", 8, &|_| DIGITAL_MIN.to_string())?;
        each(&mut out, "digital maximum", 8, &|_| DIGITAL_MAX.to_string())?;
        each(&mut out, "prefiltering", 80, &|_| String::new())?;
        each(&mut out, "samples per record", 8, &|s| s.samples_per_record.to_string())?;
        each(&mut out, "reserved", 32, &|_| String::new())?;
        Ok(out)
    }
}

/// EDF+'s month: `JAN` … `DEC`.
fn month(t: &DateTime<Utc>) -> String {
    t.format("%b").to_string().to_ascii_uppercase()
}

/// Append `text` left-aligned in a field of `width` bytes, padded with
/// spaces.
fn field(out: &mut Vec<u8>, name: &str, text: &str, width: usize) -> Result<(), String> {
    if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!("EDF header field {name}: `{text}` has {c:?}; EDF headers are printable ASCII"));
    }
    if text.len() > width {
        return Err(format!("EDF header field {name}: `{text}` is longer than its {width} characters"));
    }
    out.extend_from_slice(text.as_bytes());
    out.resize(out.len() + width - text.len(), b' ');
    Ok(())
}

/// `text` with what an EDF header cannot hold replaced by `_`, at most
/// `width` characters.
#[must_use]
pub fn ascii(text: &str, width: usize) -> String {
    text.chars().map(|c| if (' '..='~').contains(&c) { c } else { '_' }).take(width).collect()
}

/// Signal labels `<quantity> <device>` (`HR chest`) cut to 16 characters;
/// a label that the cut made equal to an earlier one ends in `~2`, `~3`, …
/// instead.
#[must_use]
pub fn labels(wanted: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(wanted.len());
    for w in wanted {
        let base = ascii(w, LABEL_WIDTH);
        let mut label = base.clone();
        let mut n = 2;
        while out.contains(&label) {
            let suffix = format!("~{n}");
            label = format!("{}{suffix}", ascii(&base, LABEL_WIDTH - suffix.len()));
            n += 1;
        }
        out.push(label);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn header() -> Header {
        let (unit, min, max) = vital(Quantity::HeartRateBpm).unwrap();
        Header {
            participant: Some("P01".to_owned()),
            start: Utc.with_ymd_and_hms(2026, 3, 14, 9, 5, 7).unwrap(),
            records: 28801,
            signals: vec![
                Signal {
                    label: "HR chest".to_owned(),
                    transducer: "vigil chest".to_owned(),
                    dimension: unit.to_owned(),
                    physical_min: min,
                    physical_max: max,
                    samples_per_record: 1,
                },
                Signal::annotations(60),
            ],
        }
    }

    fn text(bytes: &[u8], from: usize, width: usize) -> &str {
        std::str::from_utf8(&bytes[from..from + width]).unwrap()
    }

    #[test]
    fn fixed_fields_sit_at_their_offsets() {
        let h = header().encode().unwrap();
        assert_eq!(h.len(), 256 * 3);
        assert_eq!(text(&h, 0, 8), "0       ");
        assert_eq!(text(&h, 8, 80).trim_end(), "P01 X X X");
        assert_eq!(text(&h, 88, 80).trim_end(), "Startdate 14-MAR-2026 X X vigil");
        assert_eq!(text(&h, 168, 8), "14.03.26");
        assert_eq!(text(&h, 176, 8), "09.05.07");
        assert_eq!(text(&h, 184, 8), "768     ");
        assert_eq!(text(&h, 192, 44).trim_end(), "EDF+C");
        assert_eq!(text(&h, 236, 8), "28801   ");
        assert_eq!(text(&h, 244, 8), "1       ");
        assert_eq!(text(&h, 252, 4), "2   ");
    }

    #[test]
    fn signal_fields_are_grouped_by_field() {
        let h = header().encode().unwrap();
        let ns = 2;
        // Offsets of each per-signal field (EDF): label, transducer, …
        let mut at = 256;
        let mut next = |width: usize| {
            let fields: Vec<String> = (0..ns).map(|i| text(&h, at + i * width, width).trim_end().to_owned()).collect();
            at += ns * width;
            fields
        };
        assert_eq!(next(16), ["HR chest", "EDF Annotations"]);
        assert_eq!(next(80), ["vigil chest", ""]);
        assert_eq!(next(8), ["bpm", ""]);
        assert_eq!(next(8), ["0", "-1"]);
        assert_eq!(next(8), ["300", "1"]);
        assert_eq!(next(8), ["-32768", "-32768"]);
        assert_eq!(next(8), ["32767", "32767"]);
        assert_eq!(next(80), ["", ""]);
        assert_eq!(next(8), ["1", "30"]);
        assert_eq!(next(32), ["", ""]);
        assert_eq!(at, 768);
    }

    #[test]
    fn an_unknown_participant_is_x() {
        let h = Header { participant: None, ..header() }.encode().unwrap();
        assert_eq!(text(&h, 8, 80).trim_end(), "X X X X");
    }

    #[test]
    fn a_field_that_does_not_fit_is_an_error_naming_it() {
        let mut h = header();
        h.signals[0].label = "a label of seventeen".to_owned();
        let e = h.encode().unwrap_err();
        assert!(e.contains("label") && e.contains("16"), "{e}");
        h.signals[0].label = "HR brustgurt\u{e4}".to_owned();
        assert!(h.encode().unwrap_err().contains("ASCII"));
    }

    #[test]
    fn quantisation_rounds_to_the_nearest_step_and_never_hits_no_value() {
        let (_, min, max) = vital(Quantity::HeartRateBpm).unwrap();
        assert_eq!(digital(min, min, max), -32767);
        assert_eq!(digital(max, min, max), 32767);
        assert_eq!(digital(1e9, min, max), 32767);
        // 150 bpm is the middle of 0..300: −0.5 rounds away from zero.
        assert_eq!(digital(150.0, min, max), -1);
        // What a reader computes back is within half a step.
        let step = (max - min) / 65535.0;
        for v in [42.0, 72.4, 118.0, 249.9] {
            let d = f64::from(digital(v, min, max));
            let back = min + (d - f64::from(DIGITAL_MIN)) * step;
            assert!((back - v).abs() <= step / 2.0, "{v} -> {d} -> {back}");
        }
        assert_eq!(NO_VALUE, -32768);
    }

    #[test]
    fn labels_fit_and_stay_distinct() {
        let wanted = ["HR chest".to_owned(), "Temp thermometer-left".to_owned(), "Temp thermometer-right".to_owned()];
        let got = labels(&wanted);
        assert_eq!(got, ["HR chest", "Temp thermometer", "Temp thermomet~2"]);
        assert!(got.iter().all(|l| l.len() <= LABEL_WIDTH));
    }
}
