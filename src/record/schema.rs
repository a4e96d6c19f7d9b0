//! The three files' Arrow schemas, the builders that turn model values into
//! record batches, and the decoding of rows back into model values.
//!
//! Live files hold plain utf8 strings; compacted files may hold the same
//! columns dictionary-encoded, so every string read goes through
//! [`StrCol`], which accepts both.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Float64Builder, StringBuilder, TimestampMicrosecondBuilder,
    TimestampNanosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampNanosecondType, UInt8Type,
    UInt16Type, UInt32Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::model::{
    AlarmEvent, AlarmState, Characteristic, Condition, ConnectionChange, DeviceLabel, MarkerKind, OperatorAction,
    OutputEvent, Priority, Quantity, Sample, SessionTime,
};

/// Which of the three data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    Notifications,
    Samples,
    Events,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Notifications, FileKind::Samples, FileKind::Events];

    #[must_use]
    pub const fn stem(self) -> &'static str {
        match self {
            FileKind::Notifications => "notifications",
            FileKind::Samples => "samples",
            FileKind::Events => "events",
        }
    }

    /// `notifications.arrow` for segment 0, `notifications.<n>.arrow` after.
    #[must_use]
    pub fn file_name(self, segment: u32) -> String {
        if segment == 0 { format!("{}.arrow", self.stem()) } else { format!("{}.{segment}.arrow", self.stem()) }
    }

    /// The kind of a file named by [`file_name`](Self::file_name).
    #[must_use]
    pub fn of_file_name(name: &str) -> Option<FileKind> {
        let stem = name.strip_suffix(".arrow")?;
        let kind = stem.split('.').next()?;
        Self::ALL.into_iter().find(|k| k.stem() == kind)
    }

    /// The schema this vigil writes (format version 3).
    #[must_use]
    pub fn schema(self) -> SchemaRef {
        match self {
            FileKind::Notifications => NOTIFICATIONS.clone(),
            FileKind::Samples => SAMPLES.clone(),
            FileKind::Events => EVENTS.clone(),
        }
    }

    /// The schema of a file of this kind written by vigil's format
    /// versions 1 and 2 (`samples.arrow`'s is today's: version 1's
    /// nanoseconds are compacted into microseconds, see [`ns_to_us`]).
    #[must_use]
    pub fn legacy_schema(self) -> SchemaRef {
        match self {
            FileKind::Notifications => NOTIFICATIONS_V2.clone(),
            FileKind::Samples => SAMPLES.clone(),
            FileKind::Events => EVENTS_V2.clone(),
        }
    }

    /// The schema a file that starts with `source` is compacted into: its
    /// own version's (a `vigil recover` of an older recording keeps its
    /// files in their format), told by the unit of its `t`.
    #[must_use]
    pub fn schema_for(self, source: Option<&Schema>) -> SchemaRef {
        let legacy = source
            .and_then(|s| s.field_with_name("t").ok())
            .is_some_and(|t| matches!(t.data_type(), DataType::Timestamp(TimeUnit::Nanosecond, _)));
        if legacy { self.legacy_schema() } else { self.schema() }
    }

    /// The string columns a compacted file dictionary-encodes (low
    /// cardinality; `text` and `payload` are not), those of them that
    /// `schema` has.
    #[must_use]
    pub fn dictionary_columns_of(self, schema: &Schema) -> Vec<&'static str> {
        self.dictionary_columns().iter().copied().filter(|c| schema.field_with_name(c).is_ok()).collect()
    }

    /// The string columns a compacted file of the current format
    /// dictionary-encodes.
    #[must_use]
    pub const fn dictionary_columns(self) -> &'static [&'static str] {
        match self {
            FileKind::Notifications => &["device", "characteristic"],
            FileKind::Samples => &["device", "quantity"],
            FileKind::Events => &["device", "kind", "name", "priority", "state", "dose_kind", "marker_kind"],
        }
    }
}

/// IPC options of every file vigil writes: 8-byte alignment (arrow-rs
/// defaults to 64), so the stream starts right after the 8-byte magic, as
/// DESIGN.md promises readers of unfinished files.
#[must_use]
pub fn write_options() -> arrow_ipc::writer::IpcWriteOptions {
    arrow_ipc::writer::IpcWriteOptions::try_new(8, false, arrow_ipc::MetadataVersion::V5).unwrap_or_default()
}

/// Every file's `t` (format version 3): microseconds. A row's time is when
/// its notification reached the host (or when the pipeline made it), which
/// a BLE connection interval (7.5 ms at the shortest) makes meaningful to a
/// few milliseconds; microseconds keep three orders of magnitude more than
/// that, are polars' default unit, and one unit for every file lets polars
/// and DuckDB join them without a cast. The column was `samples.arrow`'s
/// largest cost in nanoseconds: an 8-byte count whose low four bytes change
/// with every sample, which zstd cannot predict (docs/performance.md).
fn t_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// `device_time` keeps nanoseconds: a sensor's clock counts 1/256 s,
/// which microseconds would round. So did every `t` of format versions 1
/// and 2 but `samples.arrow`'s (version 2).
fn ns_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn notifications_schema(t: DataType) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("t", t, false),
        Field::new("device", DataType::Utf8, false),
        Field::new("characteristic", DataType::Utf8, false),
        Field::new("payload", DataType::Binary, false),
    ]))
}

static NOTIFICATIONS: LazyLock<SchemaRef> = LazyLock::new(|| notifications_schema(t_type()));
static NOTIFICATIONS_V2: LazyLock<SchemaRef> = LazyLock::new(|| notifications_schema(ns_type()));

static SAMPLES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", t_type(), false),
        Field::new("device", DataType::Utf8, false),
        Field::new("quantity", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("contact", DataType::Boolean, true),
        Field::new("device_time", ns_type(), true),
    ]))
});

/// The columns every version of `events.arrow` has, with `t` of this type.
fn event_fields(t: DataType) -> Vec<Field> {
    vec![
        Field::new("t", t, false),
        Field::new("device", DataType::Utf8, true),
        Field::new("kind", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("priority", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("text", DataType::Utf8, true),
    ]
}

/// Format version 3's events: an operator marker's typed columns follow
/// the others (null on every other row), and its `text` is the marker's
/// own text rather than the action as JSON (see [`EventRows::push`]).
static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = event_fields(t_type());
    fields.extend([
        Field::new("dose_mg", DataType::Float64, true),
        Field::new("dose_kind", DataType::Utf8, true),
        Field::new("marker_kind", DataType::Utf8, true),
    ]);
    Arc::new(Schema::new(fields))
});
static EVENTS_V2: LazyLock<SchemaRef> = LazyLock::new(|| Arc::new(Schema::new(event_fields(ns_type()))));

/// `dose_kind` of a dose marker.
pub const DOSE_INITIAL: &str = "initial";
pub const DOSE_SUPPLEMENTAL: &str = "supplemental";

/// Session time → recorded `t` (ns since the Unix epoch).
#[must_use]
pub fn t_of(start_ns: i64, at: SessionTime) -> i64 {
    start_ns.saturating_add(i64::try_from(at.as_nanos()).unwrap_or(i64::MAX))
}

/// Recorded `t` → session time (a `t` before the start reads as 0).
#[must_use]
pub fn at_of(start_ns: i64, t: i64) -> SessionTime {
    SessionTime(u64::try_from(t.saturating_sub(start_ns)).unwrap_or(0))
}

/// Nanoseconds since the epoch → whole microseconds (rounded down, also
/// before 1970).
#[must_use]
pub const fn us_of_ns(ns: i64) -> i64 {
    ns.div_euclid(1000)
}

fn ns_builder(capacity: usize) -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

fn t_builder(capacity: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

// ---------------------------------------------------------------- builders

/// Rows of `notifications.arrow` waiting to be written.
#[derive(Debug)]
pub struct NotificationRows {
    t: TimestampMicrosecondBuilder,
    device: StringBuilder,
    characteristic: StringBuilder,
    payload: BinaryBuilder,
}

impl Default for NotificationRows {
    fn default() -> Self {
        Self {
            t: t_builder(1024),
            device: StringBuilder::new(),
            characteristic: StringBuilder::new(),
            payload: BinaryBuilder::new(),
        }
    }
}

impl NotificationRows {
    /// One row; `t_ns` in nanoseconds since the epoch (written as whole
    /// microseconds).
    pub fn push(&mut self, t_ns: i64, device: &str, characteristic: Characteristic, payload: &[u8]) {
        self.t.append_value(us_of_ns(t_ns));
        self.device.append_value(device);
        // Writing through fmt avoids a String per row.
        let _ = write!(self.characteristic, "{characteristic}");
        self.characteristic.append_value("");
        self.payload.append_value(payload);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.t.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        RecordBatch::try_new(
            NOTIFICATIONS.clone(),
            vec![
                Arc::new(self.t.finish()),
                Arc::new(self.device.finish()),
                Arc::new(self.characteristic.finish()),
                Arc::new(self.payload.finish()),
            ],
        )
    }
}

/// Rows of `samples.arrow` waiting to be written.
#[derive(Debug)]
pub struct SampleRows {
    t: TimestampMicrosecondBuilder,
    device: StringBuilder,
    quantity: StringBuilder,
    value: Float64Builder,
    contact: BooleanBuilder,
    device_time: TimestampNanosecondBuilder,
}

impl Default for SampleRows {
    fn default() -> Self {
        Self {
            t: t_builder(1024),
            device: StringBuilder::new(),
            quantity: StringBuilder::new(),
            value: Float64Builder::new(),
            contact: BooleanBuilder::new(),
            device_time: ns_builder(1024),
        }
    }
}

impl SampleRows {
    pub fn push(&mut self, start_ns: i64, s: &Sample) {
        self.t.append_value(us_of_ns(t_of(start_ns, s.at)));
        self.device.append_value(&*s.device);
        self.quantity.append_value(s.quantity.as_str());
        self.value.append_value(s.value);
        self.contact.append_option(s.contact);
        self.device_time.append_option(s.device_time_ns);
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.t.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        RecordBatch::try_new(
            SAMPLES.clone(),
            vec![
                Arc::new(self.t.finish()),
                Arc::new(self.device.finish()),
                Arc::new(self.quantity.finish()),
                Arc::new(self.value.finish()),
                Arc::new(self.contact.finish()),
                Arc::new(self.device_time.finish()),
            ],
        )
    }
}

/// Rows of `events.arrow` waiting to be written.
#[derive(Debug)]
pub struct EventRows {
    t: TimestampMicrosecondBuilder,
    device: StringBuilder,
    kind: StringBuilder,
    name: StringBuilder,
    priority: StringBuilder,
    state: StringBuilder,
    value: Float64Builder,
    text: StringBuilder,
    dose_mg: Float64Builder,
    dose_kind: StringBuilder,
    marker_kind: StringBuilder,
}

impl Default for EventRows {
    fn default() -> Self {
        Self {
            t: t_builder(64),
            device: StringBuilder::new(),
            kind: StringBuilder::new(),
            name: StringBuilder::new(),
            priority: StringBuilder::new(),
            state: StringBuilder::new(),
            value: Float64Builder::new(),
            text: StringBuilder::new(),
            dose_mg: Float64Builder::new(),
            dose_kind: StringBuilder::new(),
            marker_kind: StringBuilder::new(),
        }
    }
}

/// `dose_kind` of a marker of this kind (`None` for a note or no kind).
#[must_use]
pub const fn dose_kind(kind: Option<MarkerKind>) -> Option<&'static str> {
    match kind {
        Some(MarkerKind::Dose) => Some(DOSE_INITIAL),
        Some(MarkerKind::SupplementalDose) => Some(DOSE_SUPPLEMENTAL),
        Some(MarkerKind::Note) | None => None,
    }
}

/// `marker_kind`: the marker's kind as the model names it (`dose`,
/// `supplemental_dose`, `note`), so a replay tells a note from a marker
/// given without a kind.
#[must_use]
pub const fn marker_kind_name(kind: MarkerKind) -> &'static str {
    match kind {
        MarkerKind::Dose => "dose",
        MarkerKind::SupplementalDose => "supplemental_dose",
        MarkerKind::Note => "note",
    }
}

/// The kind `marker_kind` names.
#[must_use]
pub fn parse_marker_kind(s: &str) -> Option<MarkerKind> {
    [MarkerKind::Dose, MarkerKind::SupplementalDose, MarkerKind::Note].into_iter().find(|k| marker_kind_name(*k) == s)
}

/// Name of the decode-error row whose characteristic is unknown (a bad
/// stream line).
pub const STREAM: &str = "stream";

impl EventRows {
    /// Encode one output event (DESIGN.md's `events.arrow` columns;
    /// docs/recording-format.md says what each holds for each kind).
    pub fn push(&mut self, start_ns: i64, e: &OutputEvent) {
        self.t.append_value(us_of_ns(t_of(start_ns, e.at())));
        self.kind.append_value(e.kind());
        // The marker columns: set below for a marker, null on other rows.
        let mut marker: Option<&crate::model::Marker> = None;
        match e {
            OutputEvent::Alarm(a) => {
                self.device.append_option(a.device.as_deref());
                self.name.append_value(a.condition.as_str());
                self.priority.append_value(a.priority.as_str());
                self.state.append_value(a.state.as_str());
                self.value.append_option(a.value);
                self.text.append_null();
            }
            OutputEvent::Operator { action, .. } => {
                let (device, priority, value) = match action {
                    OperatorAction::Ack { device, .. }
                    | OperatorAction::RemoteAck { device, .. }
                    | OperatorAction::AckRefused { device, .. }
                    | OperatorAction::Baseline { device } => (device.as_deref(), None, None),
                    OperatorAction::AudioPause => (None, None, None),
                    OperatorAction::Marker(m) => (None, None, m.amount_mg),
                    OperatorAction::Limit { priority, value, .. } => (None, Some(priority.as_str()), Some(*value)),
                    OperatorAction::Manual { value, .. } => (Some(crate::model::MANUAL_DEVICE), None, Some(*value)),
                };
                self.device.append_option(device);
                self.name.append_value(action.name());
                self.priority.append_option(priority);
                self.state.append_null();
                self.value.append_option(value);
                if let OperatorAction::Marker(m) = action {
                    // The marker's own text; its kind and dose are typed
                    // columns, and replay builds the marker from them.
                    marker = Some(m);
                    self.text.append_value(&m.label);
                } else {
                    // The full action as JSON: replay and resume parse it back.
                    match serde_json::to_string(action) {
                        Ok(json) => self.text.append_value(json),
                        Err(_) => self.text.append_null(),
                    }
                }
            }
            OutputEvent::Connection { device, change, .. } => {
                self.device.append_value(&**device);
                let (name, details) = match change {
                    ConnectionChange::Connected { name, address, services } => {
                        ("connected", serde_json::json!({ "name": name, "address": address, "services": services }))
                    }
                    ConnectionChange::Disconnected { reason } => {
                        ("disconnected", serde_json::json!({ "reason": reason }))
                    }
                };
                self.name.append_value(name);
                self.priority.append_null();
                self.state.append_null();
                self.value.append_null();
                self.text.append_value(details.to_string());
            }
            OutputEvent::DecodeError { device, characteristic, line, message, .. } => {
                self.device.append_option(device.as_deref());
                match characteristic {
                    Some(c) => {
                        let _ = write!(self.name, "{c}");
                        self.name.append_value("");
                    }
                    None => self.name.append_value(STREAM),
                }
                self.priority.append_null();
                self.state.append_null();
                #[allow(clippy::cast_precision_loss)] // line numbers stay far below 2^53
                self.value.append_option(line.map(|l| l as f64));
                self.text.append_value(message);
            }
            OutputEvent::Gap { duration, .. } => {
                self.device.append_null();
                self.name.append_value("gap");
                self.priority.append_null();
                self.state.append_null();
                self.value.append_value(duration.as_secs_f64());
                self.text.append_null();
            }
        }
        self.dose_mg.append_option(marker.and_then(|m| m.amount_mg));
        self.dose_kind.append_option(marker.and_then(|m| dose_kind(m.kind)));
        self.marker_kind.append_option(marker.and_then(|m| m.kind).map(marker_kind_name));
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.t.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn finish(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        RecordBatch::try_new(
            EVENTS.clone(),
            vec![
                Arc::new(self.t.finish()),
                Arc::new(self.device.finish()),
                Arc::new(self.kind.finish()),
                Arc::new(self.name.finish()),
                Arc::new(self.priority.finish()),
                Arc::new(self.state.finish()),
                Arc::new(self.value.finish()),
                Arc::new(self.text.finish()),
                Arc::new(self.dose_mg.finish()),
                Arc::new(self.dose_kind.finish()),
                Arc::new(self.marker_kind.finish()),
            ],
        )
    }
}

mod read;
pub use read::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn notifications(devices: &[Option<&str>], characteristics: &[Option<&str>]) -> RecordBatch {
        let n = devices.len();
        // Nullable throughout: a damaged file may hold what the schema forbids.
        let fields: Vec<Field> =
            NOTIFICATIONS.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            vec![
                Arc::new(TimestampMicrosecondArray::from(vec![0_i64; n]).with_timezone("UTC")),
                Arc::new(StringArray::from(devices.to_vec())),
                Arc::new(StringArray::from(characteristics.to_vec())),
                Arc::new(BinaryArray::from(vec![&b"\x00\x3c"[..]; n])),
            ],
        )
        .unwrap()
    }

    fn marker(label: &str, kind: Option<MarkerKind>, amount_mg: Option<f64>) -> OperatorAction {
        OperatorAction::Marker(crate::model::Marker { label: label.into(), kind, amount_mg })
    }

    /// Format 3 writes a marker in typed columns and reads it back whole,
    /// a note told from a marker without a kind; other actions stay JSON.
    #[test]
    fn markers_round_trip_through_their_typed_columns() {
        let start_ns = 1_772_355_600_000_000_000;
        let actions = [
            marker("dose 120 mg", Some(MarkerKind::Dose), Some(120.0)),
            marker("dose 60 mg", Some(MarkerKind::SupplementalDose), Some(60.0)),
            marker("music on", Some(MarkerKind::Note), None),
            marker("dose? 10 mg", None, Some(10.0)),
            marker("{\"action\":\"ack\"}", None, None),
            OperatorAction::Ack { alarm: Some(Condition::HrHigh), device: Some("chest".into()) },
        ];
        let mut rows = EventRows::default();
        let events: Vec<OutputEvent> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| OutputEvent::Operator { at: SessionTime::from_millis(i as u64 * 1500), action: a.clone() })
            .collect();
        for e in &events {
            rows.push(start_ns, e);
        }
        let batch = rows.finish().unwrap();
        let col = |name: &str| StrCol::new(&batch, name).unwrap();
        let (text, dose_kind, marker_kind) = (col("text"), col("dose_kind"), col("marker_kind"));
        assert_eq!(text.get(0), Some("dose 120 mg"));
        assert_eq!(
            (dose_kind.get(0), dose_kind.get(1), dose_kind.get(2), dose_kind.get(3)),
            (Some(DOSE_INITIAL), Some(DOSE_SUPPLEMENTAL), None, None)
        );
        assert_eq!((marker_kind.get(2), marker_kind.get(3)), (Some("note"), None));
        let dose_mg = f64_col(&batch, "dose_mg").unwrap();
        assert_eq!(
            (dose_mg.value(0), dose_mg.value(3), dose_mg.is_null(2), dose_mg.is_null(5)),
            (120.0, 10.0, true, true)
        );
        assert!(text.get(5).unwrap().starts_with("{\"action\":\"ack\""), "other actions keep their JSON");
        let mut back = Vec::new();
        decode_events(&batch, start_ns, &mut Labels::default(), &mut back).unwrap();
        assert_eq!(back, events);
    }

    /// A format-2 events batch (`t` in ns, every action as JSON in `text`,
    /// no marker columns) still decodes.
    #[test]
    fn format_2_events_still_decode() {
        let start_ns = 1_772_355_600_000_000_000;
        let dose = marker("dose 120 mg", Some(MarkerKind::Dose), Some(120.0));
        let json = serde_json::to_string(&dose).unwrap();
        let batch = RecordBatch::try_new(
            FileKind::Events.legacy_schema(),
            vec![
                Arc::new(TimestampNanosecondArray::from(vec![start_ns + 1_500_000_123]).with_timezone("UTC")),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(StringArray::from(vec!["operator"])),
                Arc::new(StringArray::from(vec!["marker"])),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(StringArray::from(vec![None::<&str>])),
                Arc::new(Float64Array::from(vec![Some(120.0)])),
                Arc::new(StringArray::from(vec![json.as_str()])),
            ],
        )
        .unwrap();
        let mut back = Vec::new();
        decode_events(&batch, start_ns, &mut Labels::default(), &mut back).unwrap();
        assert_eq!(back, [OutputEvent::Operator { at: SessionTime(1_500_000_123), action: dose }]);
    }

    /// `check_notifications` must reject exactly what decoding rejects, at
    /// the same row: replay relies on it to fail up front or not at all.
    #[test]
    fn check_fails_where_decode_fails() {
        let ok = Some("2a37");
        let cases = [
            notifications(&[Some("a"), Some("b")], &[ok, ok]),
            notifications(&[Some("a"), Some("a"), Some("a")], &[ok, ok, Some("zz")]),
            notifications(&[Some("a"), None, Some("a")], &[ok, ok, ok]),
            notifications(&[Some("a"), Some("a")], &[ok, None]),
            notifications(&[Some("a"), Some("a"), Some("a")], &[ok, Some("2a38"), Some("2a3g")]),
        ];
        // Dictionary-encoded, as in a compacted file: a null key, a key
        // past the values, a value that does not parse.
        let dict = |keys: Vec<Option<i32>>, values: Vec<&str>| -> ArrayRef {
            Arc::new(arrow_array::DictionaryArray::<Int32Type>::new(
                arrow_array::Int32Array::from(keys),
                Arc::new(StringArray::from(values)),
            ))
        };
        let dict_batch = |devices: ArrayRef, characteristics: ArrayRef| {
            let n = devices.len();
            let fields = vec![
                Field::new("t", ns_type(), true),
                Field::new("device", devices.data_type().clone(), true),
                Field::new("characteristic", characteristics.data_type().clone(), true),
                Field::new("payload", DataType::Binary, true),
            ];
            RecordBatch::try_new(
                Arc::new(Schema::new(fields)),
                vec![
                    Arc::new(TimestampNanosecondArray::from(vec![0_i64; n]).with_timezone("UTC")),
                    devices,
                    characteristics,
                    Arc::new(BinaryArray::from(vec![&b"\x00\x3c"[..]; n])),
                ],
            )
            .unwrap()
        };
        let cases: Vec<RecordBatch> = cases
            .into_iter()
            .chain([
                dict_batch(dict(vec![Some(0), Some(1), Some(0)], vec!["a", "b"]), dict(vec![Some(0); 3], vec!["2a37"])),
                dict_batch(dict(vec![Some(0), None, Some(0)], vec!["a"]), dict(vec![Some(0); 3], vec!["2a37"])),
                dict_batch(
                    dict(vec![Some(0); 3], vec!["a"]),
                    dict(vec![Some(0), Some(1), Some(1)], vec!["2a37", "zz"]),
                ),
            ])
            .collect();
        for (i, batch) in cases.iter().enumerate() {
            let decoded = decode_notifications(batch, 0, &mut Labels::default(), &mut Vec::new()).map_err(|e| e.0);
            assert_eq!(check_notifications(batch).map_err(|e| e.0), decoded, "case {i}");
        }
        assert!(check_notifications(&cases[0]).is_ok());
        assert_eq!(check_notifications(&cases[1]).map_err(|e| e.0), Err(2));
        assert!(check_notifications(&cases[5]).is_ok());
        assert_eq!(check_notifications(&cases[6]).map_err(|e| e.0), Err(1));
        assert_eq!(check_notifications(&cases[7]).map_err(|e| e.0), Err(1));
    }
}
