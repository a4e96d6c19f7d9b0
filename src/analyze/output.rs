//! `vigil analyze`'s output: a table for an 80-column terminal, JSON lines
//! (one object per row, nested as [`Row`] serializes), or one flat table as
//! CSV or Parquet whose columns are the JSON's leaves:
//!
//! - `recording`, `participant`, `window`, `window_index`, `from_s`,
//!   `to_s`, `device`, `time_in_any_alarm_s`;
//! - `QUANTITY.STAT` per quantity (`heart_rate_bpm.median`,
//!   `heart_rate_bpm.no_contact`, …);
//! - `alarm_s.CONDITION.PRIORITY` (`alarm_s.hr.high.medium`);
//! - `hrv.MEASURE` (`hrv.rmssd_ms`, `hrv.frequency_reason`, …);
//! - `ecg_rr.MEASURE` for a strap with raw ECG (`ecg_rr.agreement_percent`,
//!   `ecg_rr.missed`, …).
//!
//! A cohort's rows may differ in quantities and alarms; the columns are the
//! union in order of first appearance, empty (null) where a row has none.

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::{Map, Value};

use super::{Row, Skipped};
use crate::model::{Quantity, SessionTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::Display, strum::VariantNames)]
#[strum(serialize_all = "lowercase")]
pub enum Format {
    Table,
    Json,
    Csv,
    Parquet,
}

/// Write `rows` in `format` to `out`.
///
/// # Errors
/// Writing fails, or Arrow refuses the table (named in the message).
pub fn write(rows: &[Row], format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    match format {
        Format::Table => table(rows, out)?,
        Format::Json => {
            for row in rows {
                serde_json::to_writer(&mut *out, row)?;
                writeln!(out)?;
            }
        }
        Format::Csv => {
            let mut w = arrow_csv::WriterBuilder::new().with_header(true).build(out);
            w.write(&batch(rows)?)?;
        }
        Format::Parquet => {
            let batch = batch(rows)?;
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::default()))
                .build();
            // A table of summary rows: small enough to build in memory.
            let mut buffer = Vec::new();
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut buffer, batch.schema(), Some(props))?;
            w.write(&batch)?;
            w.close()?;
            out.write_all(&buffer)?;
        }
    }
    Ok(())
}

/// The notes that go to stderr: windows a recording could not make.
pub fn skipped_notes(skipped: &[Skipped]) -> Vec<String> {
    skipped.iter().map(|s| format!("note: {}: {}", s.recording.display(), s.why)).collect()
}

/// One row's leaves, named as the module doc says.
fn flatten(row: &Row) -> anyhow::Result<Vec<(String, Value)>> {
    let Value::Object(top) = serde_json::to_value(row)? else { anyhow::bail!("a row is not an object") };
    let mut out = Vec::new();
    for (key, value) in top {
        match (key.as_str(), value) {
            ("quantities", Value::Array(qs)) => {
                for q in qs {
                    let Value::Object(mut q) = q else { continue };
                    let name = q.remove("quantity").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    q.remove("unit");
                    out.extend(q.into_iter().map(|(stat, v)| (format!("{name}.{stat}"), v)));
                }
            }
            ("time_in_alarm", Value::Array(ts)) => {
                for t in ts {
                    let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    out.push((format!("alarm_s.{}.{}", field("condition"), field("priority")), t["seconds"].clone()));
                }
            }
            (nested @ ("hrv" | "ecg_rr"), Value::Object(h)) => {
                out.extend(h.into_iter().map(|(k, v)| (format!("{nested}.{k}"), v)));
            }
            ("hrv" | "ecg_rr", Value::Null) => {}
            (_, v) => out.push((key, v)),
        }
    }
    Ok(out)
}

/// Every row as one Arrow table: strings where a column holds text,
/// integers where every value is one, floats otherwise.
fn batch(rows: &[Row]) -> anyhow::Result<RecordBatch> {
    let mut names: Vec<String> = Vec::new();
    let mut flat: Vec<Map<String, Value>> = Vec::with_capacity(rows.len());
    for row in rows {
        let leaves = flatten(row)?;
        for (k, _) in &leaves {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        flat.push(leaves.into_iter().collect());
    }
    let mut fields = Vec::with_capacity(names.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(names.len());
    for name in &names {
        let values: Vec<&Value> = flat.iter().map(|r| r.get(name).unwrap_or(&Value::Null)).collect();
        let present = || values.iter().filter(|v| !v.is_null());
        let (column, data_type): (ArrayRef, DataType) = if present().all(|v| v.is_i64() || v.is_u64()) {
            (Arc::new(values.iter().map(|v| v.as_i64()).collect::<Int64Array>()), DataType::Int64)
        } else if present().all(|v| v.is_number()) {
            (Arc::new(values.iter().map(|v| v.as_f64()).collect::<Float64Array>()), DataType::Float64)
        } else {
            let text = |v: &Value| match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            (Arc::new(values.iter().map(|v| text(v)).collect::<StringArray>()), DataType::Utf8)
        };
        fields.push(Field::new(name, data_type, true));
        columns.push(column);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

/// A short name for the table's first column.
fn label(quantity: &str) -> &str {
    match Quantity::parse(quantity) {
        Some(Quantity::HeartRateBpm) => "HR bpm",
        Some(Quantity::RrIntervalMs) => "RR ms",
        Some(Quantity::EnergyExpendedKj) => "energy kJ",
        Some(Quantity::BodyTemperatureC) => "core °C",
        Some(Quantity::SkinTemperatureC) => "skin °C",
        Some(Quantity::AmbientTemperatureC) => "ambient °C",
        Some(Quantity::Spo2Pct) => "SpO2 %",
        Some(Quantity::PulseRateBpm) => "pulse bpm",
        Some(Quantity::SystolicMmhg) => "sys mmHg",
        Some(Quantity::DiastolicMmhg) => "dia mmHg",
        Some(Quantity::MapMmhg) => "MAP mmHg",
        Some(Quantity::BatteryPct) => "battery %",
        None => quantity,
    }
}

fn hms(s: f64) -> String {
    SessionTime::from_secs_f64(s).to_string()
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

/// Blocks per recording, window and device, each line under 80 columns.
fn table(rows: &[Row], out: &mut dyn Write) -> std::io::Result<()> {
    let mut last_recording = None;
    for row in rows {
        if last_recording != Some(&row.recording) {
            writeln!(out, "{} · {}", row.participant.as_deref().unwrap_or("anon"), row.recording)?;
            last_recording = Some(&row.recording);
        }
        writeln!(
            out,
            "  {}  {}–{}  device {}",
            if row.window_index > 0 || row.window.starts_with("every:") {
                format!("{} #{}", row.window, row.window_index + 1)
            } else {
                row.window.clone()
            },
            hms(row.from_s),
            hms(row.to_s),
            row.device
        )?;
        writeln!(
            out,
            "    {:<10} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
            "", "n", "valid", "mean", "sd", "min", "p5", "median", "p95", "max"
        )?;
        for q in &row.quantities {
            let s = &q.stats;
            let valid = s.valid_fraction.map_or_else(|| "-".to_owned(), |f| format!("{:.0}%", 100.0 * f));
            writeln!(
                out,
                "    {:<10} {:>6} {:>5} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
                label(q.quantity),
                s.n,
                valid,
                num(s.mean),
                num(s.sd),
                num(s.min),
                num(s.p5),
                num(s.median),
                num(s.p95),
                num(s.max)
            )?;
            if s.no_contact + s.invalid + s.in_gap > 0 {
                writeln!(
                    out,
                    "    {:<10} left out: {} without contact, {} invalid, {} in a gap",
                    "", s.no_contact, s.invalid, s.in_gap
                )?;
            }
        }
        if !row.time_in_alarm.is_empty() {
            let parts: Vec<String> = row
                .time_in_alarm
                .iter()
                .map(|t| format!("{} {} {}", t.condition.as_str(), t.priority.as_str(), hms(t.seconds)))
                .collect();
            writeln!(out, "    alarms     {}", parts.join(", "))?;
        }
        if let Some(h) = &row.hrv {
            writeln!(
                out,
                "    HRV        {} beats in {} segment{}, {} corrected",
                h.beats,
                h.segments,
                if h.segments == 1 { "" } else { "s" },
                h.corrected_percent.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%")),
            )?;
            if h.ectopic + h.missed + h.extra + h.long_short > 0 {
                writeln!(
                    out,
                    "               ectopic {}  missed {}  extra {}  long/short {}",
                    h.ectopic, h.missed, h.extra, h.long_short
                )?;
            }
            if h.beats_excluded > 0 {
                writeln!(out, "               {} beats left out (no contact or invalid)", h.beats_excluded)?;
            }
            match &h.time_reason {
                Some(why) => writeln!(out, "               time domain: {why}")?,
                None => writeln!(
                    out,
                    "               RMSSD {} ms  SDNN {} ms  pNN50 {} %  SD1 {}  SD2 {}",
                    num(h.rmssd_ms),
                    num(h.sdnn_ms),
                    num(h.pnn50_percent),
                    num(h.sd1_ms),
                    num(h.sd2_ms)
                )?,
            }
            match (&h.frequency_reason, h.lf_ms2) {
                (Some(why), None) => writeln!(out, "               frequency: {why}")?,
                _ => writeln!(
                    out,
                    "               LF {} ms²  HF {} ms²  LF/HF {}  VLF {} ms²",
                    num(h.lf_ms2),
                    num(h.hf_ms2),
                    h.lf_hf.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}")),
                    num(h.vlf_ms2)
                )?,
            }
            if let (Some(why), Some(_)) = (&h.vlf_reason, h.lf_ms2) {
                writeln!(out, "               VLF: {why}")?;
            }
            match (&h.dfa_reason, h.dfa_alpha1) {
                (_, Some(a)) => writeln!(out, "               DFA α1 {a:.2}")?,
                (Some(why), None) => writeln!(out, "               DFA α1: {why}")?,
                (None, None) => {}
            }
        }
        if let Some(e) = &row.ecg_rr {
            writeln!(
                out,
                "    RR vs ECG  {} of {} strap beats agree ({}), mean |Δ| {} ms",
                e.paired,
                e.strap_beats,
                e.agreement_percent.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%")),
                num(e.mean_abs_diff_ms)
            )?;
            writeln!(
                out,
                "               {} ECG beats; missed by the strap {}, extra {}",
                e.ecg_beats, e.missed, e.extra
            )?;
        }
    }
    Ok(())
}
