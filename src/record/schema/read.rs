//! Reading rows back: string, time and number columns of either layout
//! (live or compacted), and the decoding of rows into model values.

#[allow(clippy::wildcard_imports)]
use super::*;

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

/// A timestamp column in either unit vigil writes (every `t` is in
/// microseconds from format version 3, `samples.arrow`'s from version 2;
/// the others before that, and `device_time` always, in nanoseconds), read
/// as nanoseconds.
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
/// compacted by `vigil recover` into microseconds, as versions 2 and 3
/// write it. `None` if `col`
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
    // Format version 3 types a marker in columns of its own; older files
    // hold it, like every operator action, as JSON in `text`.
    let typed_markers = match batch.column_by_name("marker_kind") {
        Some(_) => Some((f64_col(batch, "dose_mg").map_err(whole)?, StrCol::new(batch, "marker_kind").map_err(whole)?)),
        None => None,
    };
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
            "operator" => match &typed_markers {
                Some((dose_mg, marker_kind)) if n == "marker" => {
                    let kind = match marker_kind.get(i) {
                        Some(k) => Some(parse_marker_kind(k).ok_or_else(|| (i, format!("unknown marker kind `{k}`")))?),
                        None => None,
                    };
                    let label = text.required(i, "text").map_err(row)?.to_owned();
                    let amount_mg = dose_mg.is_valid(i).then(|| dose_mg.value(i));
                    let marker = crate::model::Marker { label, kind, amount_mg };
                    OutputEvent::Operator { at, action: OperatorAction::Marker(marker) }
                }
                _ => {
                    let json = text.required(i, "text").map_err(row)?;
                    let action: OperatorAction =
                        serde_json::from_str(json).map_err(|e| (i, format!("operator action `{json}`: {e}")))?;
                    OutputEvent::Operator { at, action }
                }
            },
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
