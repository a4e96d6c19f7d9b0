//! One stream line, read by serde into typed forms.
//!
//! A line is a flat JSON object, and the key it has says what it is:
//! `action` an operator action, else `event` a sensor event, else
//! `characteristic` a notification. It is read in two passes (a line is
//! short): [`Envelope`] takes the keys every line shares (`at_ms`, `device`
//! and the kind), then the kind's own form takes the other keys, through
//! `serde_path_to_error` so that an error names the key it is about.
//!
//! Events and actions are read as externally tagged enums whose variant is
//! the value of `event` or `action` ([`Tagged`]). serde's internally tagged
//! form (`#[serde(tag = "action")]`, as [`OperatorAction`] is written) would
//! read the same lines, but it buffers the object before choosing the
//! variant, and the buffered read loses the key of an error
//! (dtolnay/path-to-error#1).
//!
//! Every form denies unknown fields, and serde refuses a field it knows
//! given twice, so a duplicate key is refused at any depth:
//! `{"at_ms": 1, "at_ms": 2}` is a typo or a tampered line, and which value
//! was meant is unknowable (serde_json's `Value` would silently keep the
//! last).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, MapAccess, Visitor};
use serde_path_to_error::Segment;

use crate::excerpt::{self, excerpt, excerpt_quoted};
use crate::model::{
    Characteristic, Condition, DeviceInfo, EventBody, Marker, MarkerKind, OperatorAction, Payload, Priority, Quantity,
    SessionTime,
};

/// Largest ATT value (Bluetooth Core, ATT_MTU limits aside).
const MAX_PAYLOAD: usize = 512;

/// Latest `at_ms` a line may give (10^11 ms, about 3.2 years). A recording
/// stamps `t` as i64 nanoseconds since 1970, which runs out in 2262: any
/// session started before 2259 holds this time exactly, where a larger one
/// could saturate and silently share its `t` with other rows.
const MAX_AT_MS: u64 = 100_000_000_000;

/// A bad line: its number, the key at fault (if one is), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LineError {
    pub line: u64,
    /// The key's path in the line (`payload`, `services[1]`), cut and
    /// escaped like any quoted input.
    pub field: Option<String>,
    pub message: String,
}

impl LineError {
    /// What is wrong, without the line number (which travels beside it in
    /// a `BadInput` and a `decode_error`'s `line`).
    #[must_use]
    pub fn detail(&self) -> String {
        match &self.field {
            Some(field) => format!("`{field}`: {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.detail())
    }
}

/// One line, understood but not yet placed in time.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// Blank or a `#` comment.
    Blank,
    Event {
        at: Option<SessionTime>,
        /// The sensor a sensor line is about; `None` for action lines (their
        /// target, if any, is inside the action).
        device: Option<String>,
        body: EventBody,
    },
}

/// Parse one line (numbered from 1). Stateless: placing it in time, and
/// "going back in time", is the decoder's job.
pub fn parse_line(line_no: u64, text: &str) -> Result<ParsedLine, LineError> {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(ParsedLine::Blank);
    }
    let fail = |key: Option<&str>, message: String| LineError { line: line_no, field: key.map(excerpt), message };
    let fields = |skip: &'static [&'static str]| Fields { text, skip };
    let line = read::<_, Envelope>(fields(&[]), None).map_err(|(key, e)| error(line_no, key, &e))?;
    let at = line.at_ms;
    let (device, body) = if let Some(action) = &line.action {
        let tagged = Tagged { variant: action, fields: fields(&["at_ms", "action"]) };
        let Action(action) = read(tagged, Some("action")).map_err(|(k, e)| error(line_no, k, &e))?;
        (None, EventBody::Operator(action))
    } else if let Some(event) = &line.event {
        let device = sensor(line.device).map_err(|m| fail(Some("device"), m))?;
        let tagged = Tagged { variant: event, fields: fields(&["at_ms", "device", "event"]) };
        let event = read::<_, EventFields>(tagged, Some("event")).map_err(|(k, e)| error(line_no, k, &e))?;
        (Some(device), event.into())
    } else if line.characteristic.is_some() {
        let device = sensor(line.device).map_err(|m| fail(Some("device"), m))?;
        let n = read::<_, NotificationFields>(fields(&["at_ms", "device"]), None)
            .map_err(|(k, e)| error(line_no, k, &e))?;
        (Some(device), EventBody::Notification { characteristic: n.characteristic, payload: n.payload })
    } else {
        return Err(fail(None, "a line needs `characteristic` (a notification), `event` or `action`".to_owned()));
    };
    Ok(ParsedLine::Event { at, device, body })
}

/// The keys every line may have. Other keys are left to the kind's form,
/// which refuses those it does not know.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct Envelope {
    #[serde(default, deserialize_with = "at_ms")]
    at_ms: Option<SessionTime>,
    device: Option<String>,
    event: Option<String>,
    action: Option<String>,
    characteristic: Option<IgnoredAny>,
}

/// A notification line's own keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationFields {
    #[serde(deserialize_with = "characteristic")]
    characteristic: Characteristic,
    #[serde(deserialize_with = "payload")]
    payload: Payload,
}

/// An event line's own keys, by the value of its `event`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum EventFields {
    Connected {
        name: Option<String>,
        address: Option<String>,
        services: Option<Vec<Service>>,
    },
    Disconnected {
        reason: Option<String>,
    },
    Rssi {
        #[serde(deserialize_with = "rssi")]
        rssi: i16,
    },
    DeviceInfo {
        manufacturer: Option<String>,
        model: Option<String>,
        firmware: Option<String>,
    },
    /// The answer to the ECG start command (Polar PMD):
    /// `{"event": "ecg", "started": false, "reason": "invalid state"}`.
    Ecg {
        started: bool,
        reason: Option<String>,
    },
}

impl From<EventFields> for EventBody {
    fn from(event: EventFields) -> Self {
        match event {
            EventFields::Connected { name, address, services } => EventBody::Connected {
                name,
                address,
                services: services.unwrap_or_default().into_iter().map(|s| s.0).collect(),
            },
            EventFields::Disconnected { reason } => EventBody::Disconnected { reason },
            EventFields::Rssi { rssi } => EventBody::Rssi(rssi),
            EventFields::DeviceInfo { manufacturer, model, firmware } => {
                EventBody::DeviceInfo(DeviceInfo { manufacturer, model, firmware })
            }
            EventFields::Ecg { started, reason } => EventBody::EcgStatus { started, reason },
        }
    }
}

/// An action line's own keys, by the value of its `action`.
#[derive(Deserialize)]
struct Action(#[serde(with = "ActionFields")] OperatorAction);

/// [`OperatorAction`]'s serde form, read with the checks a typed-in line
/// needs. serde's `remote` makes the compiler hold this to model.rs: a
/// variant or field that differs there does not build.
#[derive(Deserialize)]
#[serde(remote = "OperatorAction", rename_all = "snake_case", deny_unknown_fields)]
enum ActionFields {
    Ack { alarm: Option<Condition>, device: Option<String> },
    // Braced, so an unknown key is refused by name like any variant's.
    AudioPause {},
    Marker(#[serde(with = "MarkerFields")] Marker),
    Baseline { device: Option<String> },
    Limit { condition: Condition, priority: Priority, value: f64 },
    Manual { quantity: Quantity, value: f64 },
}

/// [`Marker`]'s serde form, refusing a label that would show as something
/// else on screen and a negative dose.
#[derive(Deserialize)]
#[serde(remote = "Marker", deny_unknown_fields)]
struct MarkerFields {
    #[serde(deserialize_with = "visible_text")]
    label: String,
    kind: Option<MarkerKind>,
    #[serde(default, deserialize_with = "dose")]
    amount_mg: Option<f64>,
}

/// A 16-bit SIG service number, written in hex (`"180d"`, `"0x180f"`).
#[derive(Deserialize)]
#[serde(try_from = "String")]
struct Service(u16);

impl TryFrom<String> for Service {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        u16::from_str_radix(s.trim_start_matches("0x"), 16)
            .map(Service)
            .map_err(|_| format!("`{}` is not a 16-bit service number (\"180d\")", excerpt(&s)))
    }
}

/// The device of a sensor line: one word, as the dashboard and recordings
/// show it.
fn sensor(device: Option<String>) -> Result<String, String> {
    match device {
        None => Err("missing: a sensor line names its device".to_owned()),
        Some(d) if d.is_empty() || d.contains(char::is_whitespace) => {
            Err("a device label is one word (chest, thermo)".to_owned())
        }
        Some(d) => Ok(d),
    }
}

fn at_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SessionTime>, D::Error> {
    let Some(ms) = Option::<f64>::deserialize(d)? else { return Ok(None) };
    if ms < 0.0 {
        return Err(de::Error::custom("must be zero or more"));
    }
    // 10^11 is below 2^53, so exact as an f64.
    #[allow(clippy::cast_precision_loss)]
    if ms > MAX_AT_MS as f64 {
        return Err(de::Error::custom(format_args!(
            "later than a recording can stamp (at most {MAX_AT_MS} ms, about 3 years)"
        )));
    }
    // Zero or more and at most 10^17 ns by the checks above; serde_json
    // reads no number that is not finite.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Some(SessionTime((ms * 1e6).round() as u64)))
}

fn characteristic<'de, D: Deserializer<'de>>(d: D) -> Result<Characteristic, D::Error> {
    Characteristic::parse(&Cow::<str>::deserialize(d)?).map_err(de::Error::custom)
}

fn payload<'de, D: Deserializer<'de>>(d: D) -> Result<Payload, D::Error> {
    let text = Cow::<str>::deserialize(d)?;
    let hex_text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = hex::decode(&hex_text).map_err(|e| de::Error::custom(format_args!("not hex ({e})")))?;
    if bytes.len() > MAX_PAYLOAD {
        return Err(de::Error::custom(format_args!(
            "{} bytes; an attribute value holds at most {MAX_PAYLOAD}",
            bytes.len()
        )));
    }
    Ok(Payload::from_vec(bytes))
}

fn rssi<'de, D: Deserializer<'de>>(d: D) -> Result<i16, D::Error> {
    let v = f64::deserialize(d)?;
    if v.fract() != 0.0 || !(-128.0..=20.0).contains(&v) {
        return Err(de::Error::custom(format_args!("{} is not an RSSI in dBm (-128..20)", excerpt::number(v))));
    }
    // Whole and within i16 by the check above.
    #[allow(clippy::cast_possible_truncation)]
    Ok(v as i16)
}

/// Text shown on screen and kept in the recording: nothing that shows as
/// something else (a bidirectional override, an escape sequence).
fn visible_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    if text.chars().any(|c| c.is_control() || excerpt::is_invisible_format(c)) {
        return Err(de::Error::custom("holds control or invisible characters (tabs, escapes, direction overrides)"));
    }
    Ok(text)
}

fn dose<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let amount = Option::<f64>::deserialize(d)?;
    if amount.is_some_and(|mg| mg < 0.0) {
        return Err(de::Error::custom("a dose cannot be negative"));
    }
    Ok(amount)
}

/// Read a `T` from `de`, and on error the path of the key at fault.
fn read<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    de: D,
    tag: Option<&'static str>,
) -> Result<T, (Option<String>, D::Error)> {
    serde_path_to_error::deserialize(de).map_err(|e| (key_path(e.path(), tag), e.into_inner()))
}

/// The key at fault as the line writes it (`services[1]`). A tagged form's
/// variant is the value of the line's tag, not a level of nesting, so it is
/// left out; an error at the variant itself (unknown) is about the tag key.
fn key_path(path: &serde_path_to_error::Path, tag: Option<&'static str>) -> Option<String> {
    if path.iter().len() == 0 {
        return tag.map(str::to_owned);
    }
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Enum { .. } => {}
            Segment::Unknown => out.push('?'),
        }
    }
    (!out.is_empty()).then_some(out)
}

fn error(line: u64, key: Option<String>, e: &serde_json::Error) -> LineError {
    let text = e.to_string();
    // serde_json places the error on "line 1" of the one-line text: only
    // the column says anything.
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = excerpt_quoted(text.strip_suffix(&position).unwrap_or(&text));
    match e.classify() {
        serde_json::error::Category::Data => LineError { line, field: key.map(|k| excerpt(&k)), message },
        // Text that is not JSON has no keys to name.
        _ => LineError { line, field: None, message: format!("not valid JSON: {message} (column {})", e.column()) },
    }
}

/// A line's JSON object, with the keys an earlier pass read hidden.
#[derive(Clone, Copy)]
struct Fields<'a> {
    text: &'a str,
    skip: &'static [&'static str],
}

impl<'de> Deserializer<'de> for Fields<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        // A map, never a sequence: serde's derived structs would take the
        // values of `[1, 2]` as their fields in order.
        let mut json = serde_json::Deserializer::from_str(self.text);
        let value = json.deserialize_map(Skipping { skip: self.skip, visitor })?;
        json.end()?;
        Ok(value)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Hands `visitor` the object's entries but those under `skip`.
struct Skipping<V> {
    skip: &'static [&'static str],
    visitor: V,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Skipping<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Skipped { skip: self.skip, map })
    }
}

struct Skipped<A> {
    skip: &'static [&'static str],
    map: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Skipped<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<String>()? {
            if self.skip.contains(&key.as_str()) {
                self.map.next_value::<IgnoredAny>()?;
            } else {
                return seed.deserialize(key.into_deserializer()).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A line read as an externally tagged enum: the variant is the value of
/// its tag key, the variant's fields are the line's other [`Fields`].
struct Tagged<'a> {
    variant: &'a str,
    fields: Fields<'a>,
}

impl<'de> Deserializer<'de> for Tagged<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_enum(self)
    }

    // [`Action`] wraps the remote-derived enum.
    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de> de::EnumAccess<'de> for Tagged<'de> {
    type Error = serde_json::Error;
    type Variant = Fields<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Fields<'de>), Self::Error> {
        let variant = seed.deserialize(de::value::StrDeserializer::<Self::Error>::new(self.variant))?;
        Ok((variant, self.fields))
    }
}

impl<'de> de::VariantAccess<'de> for Fields<'de> {
    type Error = serde_json::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        NoFields::deserialize(self).map(|NoFields {}| ())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Self::Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }
}

/// A unit variant's fields: none.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}
