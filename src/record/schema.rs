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
    AlarmEvent, AlarmState, Characteristic, Condition, ConnectionChange, DeviceLabel, OperatorAction, OutputEvent,
    Priority, Quantity, Sample, SessionTime,
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

    #[must_use]
    pub fn schema(self) -> SchemaRef {
        match self {
            FileKind::Notifications => NOTIFICATIONS.clone(),
            FileKind::Samples => SAMPLES.clone(),
            FileKind::Events => EVENTS.clone(),
        }
    }

    /// The string columns a compacted file dictionary-encodes (low
    /// cardinality; `text` and `payload` are not).
    #[must_use]
    pub const fn dictionary_columns(self) -> &'static [&'static str] {
        match self {
            FileKind::Notifications => &["device", "characteristic"],
            FileKind::Samples => &["device", "quantity"],
            FileKind::Events => &["device", "kind", "name", "priority", "state"],
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

fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// `samples.arrow`'s `t`: microseconds. A sample's time is when its
/// notification reached the host, which a BLE connection interval (7.5 ms
/// at the shortest) makes meaningful to a few milliseconds; microseconds
/// keep three orders of magnitude more than that, and are polars' default
/// unit. The column was the file's largest cost in nanoseconds: an 8-byte
/// count whose low four bytes change with every sample, which zstd cannot
/// predict (`mdma-session`: `t` 2.66 of 4.18 B/sample; the whole file
/// 3.47 B/sample in microseconds, docs/performance.md). `notifications.arrow`,
/// the raw record, keeps nanoseconds, and so does `device_time`, whose
/// 1/256 s fractions microseconds would round.
fn sample_time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

static NOTIFICATIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", time_type(), false),
        Field::new("device", DataType::Utf8, false),
        Field::new("characteristic", DataType::Utf8, false),
        Field::new("payload", DataType::Binary, false),
    ]))
});

static SAMPLES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", sample_time_type(), false),
        Field::new("device", DataType::Utf8, false),
        Field::new("quantity", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
        Field::new("contact", DataType::Boolean, true),
        Field::new("device_time", time_type(), true),
    ]))
});

static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", time_type(), false),
        Field::new("device", DataType::Utf8, true),
        Field::new("kind", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("priority", DataType::Utf8, true),
        Field::new("state", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("text", DataType::Utf8, true),
    ]))
});

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

fn ts_builder(capacity: usize) -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

// ---------------------------------------------------------------- builders

/// Rows of `notifications.arrow` waiting to be written.
#[derive(Debug)]
pub struct NotificationRows {
    t: TimestampNanosecondBuilder,
    device: StringBuilder,
    characteristic: StringBuilder,
    payload: BinaryBuilder,
}

impl Default for NotificationRows {
    fn default() -> Self {
        Self {
            t: ts_builder(1024),
            device: StringBuilder::new(),
            characteristic: StringBuilder::new(),
            payload: BinaryBuilder::new(),
        }
    }
}

impl NotificationRows {
    pub fn push(&mut self, t: i64, device: &str, characteristic: Characteristic, payload: &[u8]) {
        self.t.append_value(t);
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
            t: TimestampMicrosecondBuilder::with_capacity(1024).with_timezone("UTC"),
            device: StringBuilder::new(),
            quantity: StringBuilder::new(),
            value: Float64Builder::new(),
            contact: BooleanBuilder::new(),
            device_time: ts_builder(1024),
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
    t: TimestampNanosecondBuilder,
    device: StringBuilder,
    kind: StringBuilder,
    name: StringBuilder,
    priority: StringBuilder,
    state: StringBuilder,
    value: Float64Builder,
    text: StringBuilder,
}

impl Default for EventRows {
    fn default() -> Self {
        Self {
            t: ts_builder(64),
            device: StringBuilder::new(),
            kind: StringBuilder::new(),
            name: StringBuilder::new(),
            priority: StringBuilder::new(),
            state: StringBuilder::new(),
            value: Float64Builder::new(),
            text: StringBuilder::new(),
        }
    }
}

/// Name of the decode-error row whose characteristic is unknown (a bad
/// stream line).
pub const STREAM: &str = "stream";

impl EventRows {
    /// Encode one output event (DESIGN.md's `events.arrow` columns).
    pub fn push(&mut self, start_ns: i64, e: &OutputEvent) {
        self.t.append_value(t_of(start_ns, e.at()));
        self.kind.append_value(e.kind());
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
                    OperatorAction::Ack { device, .. } | OperatorAction::Baseline { device } => {
                        (device.as_deref(), None, None)
                    }
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
                // The full action as JSON: replay and resume parse it back.
                match serde_json::to_string(action) {
                    Ok(json) => self.text.append_value(json),
                    Err(_) => self.text.append_null(),
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
            ],
        )
    }
}

// ---------------------------------------------------------------- reading

/// Why a row could not be read back (the caller adds file and row).
pub type RowError = String;

/// A string column, plain or dictionary-encoded.
#[derive(Debug)]
pub enum StrCol<'a> {
    Plain(&'a StringArray),
    Dict { keys: Vec<Option<usize>>, values: &'a StringArray },
}

impl<'a> StrCol<'a> {
    pub fn new(batch: &'a RecordBatch, name: &str) -> Result<StrCol<'a>, RowError> {
        let col = column(batch, name)?;
        if let Some(a) = col.as_string_opt::<i32>() {
            return Ok(StrCol::Plain(a));
        }
        macro_rules! keys {
            ($($t:ty),*) => {
                $(if let Some(d) = col.as_dictionary_opt::<$t>() {
                    let values = d.values().as_string_opt::<i32>().ok_or_else(|| format!("column `{name}`: dictionary values are not utf8"))?;
                    let n = values.len();
                    let keys = d
                        .keys()
                        .iter()
                        .map(|k| k.and_then(|k| usize::try_from(k).ok()).filter(|k| *k < n))
                        .collect();
                    return Ok(StrCol::Dict { keys, values });
                })*
            };
        }
        keys!(Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type);
        Err(format!("column `{name}` is {}, not utf8", col.data_type()))
    }

    #[must_use]
    pub fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            StrCol::Plain(a) => (i < a.len() && a.is_valid(i)).then(|| a.value(i)),
            StrCol::Dict { keys, values } => {
                keys.get(i).copied().flatten().and_then(|k| values.is_valid(k).then(|| values.value(k)))
            }
        }
    }

    pub fn required(&self, i: usize, name: &str) -> Result<&'a str, RowError> {
        self.get(i).ok_or_else(|| format!("`{name}` is null"))
    }
}

pub fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, RowError> {
    batch.column_by_name(name).ok_or_else(|| format!("no column `{name}`"))
}

/// A timestamp column in either unit vigil writes (`samples.arrow`'s `t`
/// is in microseconds from format version 2; before that, and every other
/// time column, in nanoseconds), read as nanoseconds.
#[derive(Debug, Clone, Copy)]
pub enum TimeCol<'a> {
    Ns(&'a TimestampNanosecondArray),
    Us(&'a TimestampMicrosecondArray),
}

impl TimeCol<'_> {
    /// Row `i` in nanoseconds since the epoch (whatever a null slot holds:
    /// check [`is_valid`](Self::is_valid) where the column is nullable).
    #[inline]
    #[must_use]
    pub fn ns(&self, i: usize) -> i64 {
        match self {
            TimeCol::Ns(a) => a.value(i),
            TimeCol::Us(a) => a.value(i).saturating_mul(1000),
        }
    }

    #[must_use]
    pub fn is_valid(&self, i: usize) -> bool {
        match self {
            TimeCol::Ns(a) => a.is_valid(i),
            TimeCol::Us(a) => a.is_valid(i),
        }
    }

    /// The latest value in nanoseconds (null slots included, as before).
    #[must_use]
    pub fn max_ns(&self) -> Option<i64> {
        match self {
            TimeCol::Ns(a) => a.values().iter().max().copied(),
            TimeCol::Us(a) => a.values().iter().max().map(|us| us.saturating_mul(1000)),
        }
    }
}

pub fn time_col<'a>(batch: &'a RecordBatch, name: &str) -> Result<TimeCol<'a>, RowError> {
    let col = column(batch, name)?;
    if let Some(a) = col.as_primitive_opt::<TimestampNanosecondType>() {
        Ok(TimeCol::Ns(a))
    } else if let Some(a) = col.as_primitive_opt::<TimestampMicrosecondType>() {
        Ok(TimeCol::Us(a))
    } else {
        Err(format!("column `{name}` is {}, not a timestamp in ns or µs", col.data_type()))
    }
}

/// `col`, a nanosecond timestamp column, in microseconds (rounded down):
/// a version-1 `samples.arrow` (its `t` in nanoseconds) left unfinished is
/// compacted by `vigil recover` into the current schema. `None` if `col`
/// is not a nanosecond timestamp column.
#[must_use]
pub fn ns_to_us(col: &ArrayRef) -> Option<ArrayRef> {
    let ns = col.as_primitive_opt::<TimestampNanosecondType>()?;
    let tz = match col.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    Some(Arc::new(ns.unary::<_, TimestampMicrosecondType>(us_of_ns).with_timezone_opt(tz)))
}

pub fn f64_col<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a Float64Array, RowError> {
    column(batch, name)?.as_primitive_opt().ok_or_else(|| format!("column `{name}` is not float64"))
}

pub fn bool_col<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a BooleanArray, RowError> {
    column(batch, name)?.as_boolean_opt().ok_or_else(|| format!("column `{name}` is not bool"))
}

pub fn binary_col<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a BinaryArray, RowError> {
    column(batch, name)?.as_binary_opt::<i32>().ok_or_else(|| format!("column `{name}` is not binary"))
}

/// Hands out one `DeviceLabel` per distinct device label, so a replay of
/// 100 000 rows allocates a handful of labels, not 100 000.
#[derive(Debug, Default)]
pub struct Labels(HashMap<String, DeviceLabel>);

impl Labels {
    pub fn get(&mut self, s: &str) -> DeviceLabel {
        if let Some(l) = self.0.get(s) {
            return l.clone();
        }
        let l = DeviceLabel::from(s);
        self.0.insert(s.to_owned(), l.clone());
        l
    }
}

#[must_use]
pub fn parse_priority(s: &str) -> Option<Priority> {
    [Priority::Low, Priority::Medium, Priority::High].into_iter().find(|p| p.as_str() == s)
}

#[must_use]
pub fn parse_state(s: &str) -> Option<AlarmState> {
    [AlarmState::Active, AlarmState::Escalated, AlarmState::Acknowledged, AlarmState::Latched, AlarmState::Cleared]
        .into_iter()
        .find(|p| p.as_str() == s)
}

/// One row of `notifications.arrow`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedNotification {
    pub at: SessionTime,
    pub device: DeviceLabel,
    pub characteristic: Characteristic,
    pub payload: crate::model::Payload,
}

/// Read notification rows of one batch.
pub fn decode_notifications(
    batch: &RecordBatch,
    start_ns: i64,
    labels: &mut Labels,
    out: &mut Vec<RecordedNotification>,
) -> Result<(), (usize, RowError)> {
    let whole = |e| (0, e);
    let t = time_col(batch, "t").map_err(whole)?;
    let device = StrCol::new(batch, "device").map_err(whole)?;
    let characteristic = StrCol::new(batch, "characteristic").map_err(whole)?;
    let payload = binary_col(batch, "payload").map_err(whole)?;
    // One parse and one label per distinct value, not per row.
    let mut characteristic = Resolved::new(&characteristic);
    let mut device = Resolved::new(&device);
    for i in 0..batch.num_rows() {
        let row = |e| (i, e);
        let parsed = characteristic
            .get(i, "characteristic", |c| Characteristic::parse(c).map_err(|e| e.to_string()))
            .map_err(row)?;
        out.push(RecordedNotification {
            at: at_of(start_ns, t.ns(i)),
            device: device.get(i, "device", |d| Ok(labels.get(d))).map_err(row)?,
            characteristic: parsed,
            payload: crate::model::Payload::from_slice(if payload.is_valid(i) { payload.value(i) } else { &[] }),
        });
    }
    Ok(())
}

/// A string column read row by row with one lookup per distinct value: a
/// dictionary column resolves each dictionary entry once, a plain column
/// each run of equal values once. (Per row, parsing and label hashing were
/// most of a replay's decoding.)
struct Resolved<'c, 'a, T> {
    col: &'c StrCol<'a>,
    by_key: Vec<Option<T>>,
    last: Option<(&'a str, T)>,
}

impl<'c, 'a, T: Clone> Resolved<'c, 'a, T> {
    fn new(col: &'c StrCol<'a>) -> Self {
        let n = match col {
            StrCol::Dict { values, .. } => values.len(),
            StrCol::Plain(_) => 0,
        };
        Self { col, by_key: (0..n).map(|_| None).collect(), last: None }
    }

    /// Row `i` through `f`, with [`StrCol::required`]'s error for a null.
    fn get(&mut self, i: usize, name: &str, f: impl FnOnce(&'a str) -> Result<T, RowError>) -> Result<T, RowError> {
        match self.col {
            StrCol::Dict { keys, values } => {
                let k = keys
                    .get(i)
                    .copied()
                    .flatten()
                    .filter(|k| values.is_valid(*k))
                    .ok_or_else(|| format!("`{name}` is null"))?;
                if let Some(v) = &self.by_key[k] {
                    return Ok(v.clone());
                }
                let v = f(values.value(k))?;
                self.by_key[k] = Some(v.clone());
                Ok(v)
            }
            StrCol::Plain(_) => {
                let s = self.col.required(i, name)?;
                if let Some((prev, v)) = &self.last
                    && *prev == s
                {
                    return Ok(v.clone());
                }
                let v = f(s)?;
                self.last = Some((s, v.clone()));
                Ok(v)
            }
        }
    }
}

/// Check that every notification row of one batch would decode (what
/// [`decode_notifications`] rejects), without building the rows: replay
/// checks a whole recording up front, then decodes it as it goes.
pub fn check_notifications(batch: &RecordBatch) -> Result<(), (usize, RowError)> {
    let whole = |e| (0, e);
    time_col(batch, "t").map_err(whole)?;
    let device = StrCol::new(batch, "device").map_err(whole)?;
    let characteristic = StrCol::new(batch, "characteristic").map_err(whole)?;
    binary_col(batch, "payload").map_err(whole)?;
    let mut characteristic = Resolved::new(&characteristic);
    let mut device = Resolved::new(&device);
    for i in 0..batch.num_rows() {
        characteristic
            .get(i, "characteristic", |c| Characteristic::parse(c).map(|_| ()).map_err(|e| e.to_string()))
            .map_err(|e| (i, e))?;
        device.get(i, "device", |_| Ok(())).map_err(|e| (i, e))?;
    }
    Ok(())
}

/// Read samples rows `[0, len)` of one batch.
pub fn decode_samples(
    batch: &RecordBatch,
    start_ns: i64,
    labels: &mut Labels,
    out: &mut Vec<Sample>,
) -> Result<(), (usize, RowError)> {
    let whole = |e| (0, e);
    let t = time_col(batch, "t").map_err(whole)?;
    let device = StrCol::new(batch, "device").map_err(whole)?;
    let quantity = StrCol::new(batch, "quantity").map_err(whole)?;
    let value = f64_col(batch, "value").map_err(whole)?;
    let contact = bool_col(batch, "contact").map_err(whole)?;
    let device_time = time_col(batch, "device_time").map_err(whole)?;
    for i in 0..batch.num_rows() {
        let row = |e| (i, e);
        let q = quantity.required(i, "quantity").map_err(row)?;
        out.push(Sample {
            at: at_of(start_ns, t.ns(i)),
            device: labels.get(device.required(i, "device").map_err(row)?),
            quantity: Quantity::parse(q).ok_or_else(|| (i, format!("unknown quantity `{q}`")))?,
            value: value.value(i),
            contact: contact.is_valid(i).then(|| contact.value(i)),
            device_time_ns: device_time.is_valid(i).then(|| device_time.ns(i)),
        });
    }
    Ok(())
}

/// Read events rows of one batch back into output events.
pub fn decode_events(
    batch: &RecordBatch,
    start_ns: i64,
    labels: &mut Labels,
    out: &mut Vec<OutputEvent>,
) -> Result<(), (usize, RowError)> {
    let whole = |e| (0, e);
    let t = time_col(batch, "t").map_err(whole)?;
    let device = StrCol::new(batch, "device").map_err(whole)?;
    let kind = StrCol::new(batch, "kind").map_err(whole)?;
    let name = StrCol::new(batch, "name").map_err(whole)?;
    let priority = StrCol::new(batch, "priority").map_err(whole)?;
    let state = StrCol::new(batch, "state").map_err(whole)?;
    let value = f64_col(batch, "value").map_err(whole)?;
    let text = StrCol::new(batch, "text").map_err(whole)?;
    for i in 0..batch.num_rows() {
        let row = |e| (i, e);
        let at = at_of(start_ns, t.ns(i));
        let dev = device.get(i).map(|d| labels.get(d));
        let v = value.is_valid(i).then(|| value.value(i));
        let n = name.required(i, "name").map_err(row)?;
        let event = match kind.required(i, "kind").map_err(row)? {
            "alarm" => {
                let p = priority.required(i, "priority").map_err(row)?;
                let s = state.required(i, "state").map_err(row)?;
                OutputEvent::Alarm(AlarmEvent {
                    at,
                    condition: Condition::parse(n).ok_or_else(|| (i, format!("unknown alarm `{n}`")))?,
                    device: dev,
                    priority: parse_priority(p).ok_or_else(|| (i, format!("unknown priority `{p}`")))?,
                    state: parse_state(s).ok_or_else(|| (i, format!("unknown alarm state `{s}`")))?,
                    value: v,
                })
            }
            "operator" => {
                let json = text.required(i, "text").map_err(row)?;
                let action: OperatorAction =
                    serde_json::from_str(json).map_err(|e| (i, format!("operator action `{json}`: {e}")))?;
                OutputEvent::Operator { at, action }
            }
            "connection" => {
                let device = dev.ok_or_else(|| (i, "connection row without device".to_owned()))?;
                let details: serde_json::Value = match text.get(i) {
                    Some(json) => {
                        serde_json::from_str(json).map_err(|e| (i, format!("connection details `{json}`: {e}")))?
                    }
                    None => serde_json::Value::Null,
                };
                let s = |k: &str| details.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
                let change = match n {
                    "connected" => ConnectionChange::Connected {
                        name: s("name"),
                        address: s("address"),
                        services: details
                            .get("services")
                            .and_then(serde_json::Value::as_array)
                            .map(|a| a.iter().filter_map(|x| x.as_u64().and_then(|x| u16::try_from(x).ok())).collect())
                            .unwrap_or_default(),
                    },
                    "disconnected" => ConnectionChange::Disconnected { reason: s("reason") },
                    other => return Err((i, format!("unknown connection change `{other}`"))),
                };
                OutputEvent::Connection { at, device, change }
            }
            "decode_error" => OutputEvent::DecodeError {
                at,
                device: dev,
                characteristic: if n == STREAM {
                    None
                } else {
                    Some(Characteristic::parse(n).map_err(|e| (i, e.to_string()))?)
                },
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                line: v.filter(|l| l.is_finite() && *l >= 0.0).map(|l| l as u64),
                message: text.get(i).unwrap_or_default().to_owned(),
            },
            "gap" => OutputEvent::Gap { at, duration: secs_to_duration(v.unwrap_or(0.0)) },
            other => return Err((i, format!("unknown event kind `{other}`"))),
        };
        out.push(event);
    }
    Ok(())
}

/// Seconds → duration, rounded to the nearest nanosecond (exact for any gap
/// shorter than 104 days), and zero for nonsense.
#[must_use]
pub fn secs_to_duration(secs: f64) -> Duration {
    if secs.is_finite() && secs > 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ns = (secs * 1e9).round() as u64;
        Duration::from_nanos(ns)
    } else {
        Duration::ZERO
    }
}

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
                Arc::new(TimestampNanosecondArray::from(vec![0_i64; n]).with_timezone("UTC")),
                Arc::new(StringArray::from(devices.to_vec())),
                Arc::new(StringArray::from(characteristics.to_vec())),
                Arc::new(BinaryArray::from(vec![&b"\x00\x3c"[..]; n])),
            ],
        )
        .unwrap()
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
                Field::new("t", time_type(), true),
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
