//! `session.json`: what a recording is (id, times, participant pseudonym,
//! devices, alarm configuration, segments, clean-shutdown flag), and the
//! directory naming rules.

use std::collections::BTreeMap;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::model::{DeviceInfo, Quantity};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::schema::FileKind;
use super::{FILE_MODE, META_FILE, ReadError, RecordError};

/// What `session.json` says `format` is, so other tools can tell.
pub const FORMAT: &str = "vigil-recording";
/// Bumped on any incompatible change of the files' schemas or naming
/// (docs/recording-format.md describes each version).
/// 2: `samples.arrow`'s `t` is in microseconds (was nanoseconds; vigil
/// still reads version 1, and `recover` compacts a version-1 live samples
/// file into microseconds).
/// 3: every `t` is in microseconds; `events.arrow` types an operator
/// marker (`dose_mg`, `dose_kind`, `marker_kind`, its text in `text`);
/// `session.json` has `protocol`, `visit`, `notes`, `scenario`, `seed` and
/// each device's `profile`; `samples.arrow`'s schema metadata carries each
/// quantity's unit. Versions 1 and 2 still read, and `recover` keeps an
/// older file in its own version's columns.
pub const FORMAT_VERSION: u32 = 3;

/// Largest `session.json` vigil reads (its own are a few kB).
const MAX_META_BYTES: u64 = 16 << 20;

/// Keys of the schema metadata every Arrow file of a recording carries, so
/// a file copied in from another recording is told apart.
pub const ID_KEY: &str = "vigil.recording_id";
pub const FORMAT_VERSION_KEY: &str = "vigil.format_version";
pub const PARTICIPANT_KEY: &str = "vigil.participant";
/// `vigil.unit.<quantity>` (`vigil.unit.heart_rate_bpm` = `bpm`), on
/// `samples.arrow` from format version 3.
pub const UNIT_KEY_PREFIX: &str = "vigil.unit.";

/// The contents of `session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub format: String,
    pub format_version: u32,
    /// The directory name.
    pub id: String,
    /// Session start; recorded `t` minus this is the replayed session time.
    #[serde(with = "rfc3339")]
    pub start_utc: DateTime<Utc>,
    /// The last recorded instant, set when a segment finishes (or is recovered).
    #[serde(default, with = "rfc3339_opt")]
    pub end_utc: Option<DateTime<Utc>>,
    /// A pseudonym, never a name (validated by [`validate_participant`]).
    pub participant: Option<String>,
    /// The study protocol (`--protocol`; format version 3, absent before).
    #[serde(default)]
    pub protocol: Option<String>,
    /// The visit or session of the protocol (`--visit`).
    #[serde(default)]
    pub visit: Option<String>,
    /// Free-text notes (`--note`, once per note), in the order given.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The scenario of a simulated session (its `name`); null otherwise.
    #[serde(default)]
    pub scenario: Option<String>,
    /// The simulator's seed of a simulated session; null otherwise.
    #[serde(default)]
    pub seed: Option<u64>,
    pub software: Software,
    /// Device label → what is known about it.
    #[serde(default)]
    pub devices: BTreeMap<String, DeviceMeta>,
    /// The alarm configuration of the first segment, verbatim (later
    /// segments carry their own in [`Segment::config`]).
    #[serde(default)]
    pub config: serde_json::Value,
    pub segments: Vec<Segment>,
    /// True when every segment ended cleanly (finished, not recovered).
    pub clean_shutdown: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Software {
    pub name: String,
    pub version: String,
}

impl Software {
    #[must_use]
    pub fn this() -> Self {
        Self { name: env!("CARGO_PKG_NAME").to_owned(), version: env!("CARGO_PKG_VERSION").to_owned() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The device profile vigil treated it by (`devices/<profile>.toml`):
    /// declared by the session (a scenario's devices) or matched by the
    /// advertised name or services on connection. Absent when none matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Manufacturer, model and firmware, as the device reported them
    /// (flattened: session.json keeps them beside name and address).
    #[serde(flatten)]
    pub info: DeviceInfo,
}

/// One run of the recorder. Segment 0 writes `notifications.arrow`, segment
/// `n ≥ 1` (a `--resume`) writes `notifications.n.arrow`, and so on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub index: u32,
    #[serde(with = "rfc3339")]
    pub start_utc: DateTime<Utc>,
    #[serde(default, with = "rfc3339_opt")]
    pub end_utc: Option<DateTime<Utc>>,
    /// The recorder finished this segment itself.
    pub clean_shutdown: bool,
    /// `vigil recover` (or a `--resume`) finalised this segment after a crash.
    #[serde(default)]
    pub recovered: bool,
    #[serde(default)]
    pub config: serde_json::Value,
}

impl SessionMeta {
    pub fn read(dir: &Path) -> Result<SessionMeta, ReadError> {
        use std::io::Read;
        let path = dir.join(META_FILE);
        let io = |source| ReadError::Io { path: path.clone(), source };
        let file = super::resync::open_regular(&path)?;
        let mut text = String::new();
        file.take(MAX_META_BYTES + 1).read_to_string(&mut text).map_err(io)?;
        if text.len() as u64 > MAX_META_BYTES {
            return Err(ReadError::Meta {
                file: path,
                message: format!("larger than {} MiB: not a vigil session.json", MAX_META_BYTES >> 20),
            });
        }
        let meta: SessionMeta = serde_json::from_str(&text).map_err(|e| ReadError::Meta {
            file: path.clone(),
            message: format!("line {} column {}: {e}", e.line(), e.column()),
        })?;
        if meta.format != FORMAT {
            return Err(ReadError::Meta {
                file: path,
                message: format!("format is `{}`, not `{FORMAT}`", meta.format),
            });
        }
        if meta.format_version > FORMAT_VERSION {
            return Err(ReadError::Meta {
                file: path,
                message: format!(
                    "format_version {} is newer than this vigil understands ({FORMAT_VERSION})",
                    meta.format_version
                ),
            });
        }
        if meta.segments.is_empty() {
            return Err(ReadError::Meta { file: path, message: "no segments".to_owned() });
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = meta.segments.iter().find(|s| !seen.insert(s.index)) {
            return Err(ReadError::Meta {
                file: path,
                message: format!(
                    "segment {} is listed twice: its files ({}, …) would be read twice",
                    twice.index,
                    FileKind::Notifications.file_name(twice.index)
                ),
            });
        }
        Ok(meta)
    }

    /// The schema metadata of this recording's Arrow files of `kind`:
    /// identity and format version on each, and on `samples.arrow` each
    /// quantity's unit.
    #[must_use]
    pub fn schema_metadata(&self, kind: FileKind) -> arrow_schema::Metadata {
        let mut m = arrow_schema::Metadata::new()
            .with(ID_KEY, self.id.clone())
            .with(FORMAT_VERSION_KEY, self.format_version.to_string());
        if let Some(p) = &self.participant {
            m = m.with(PARTICIPANT_KEY, p.clone());
        }
        if kind == FileKind::Samples {
            for q in Quantity::ALL {
                m = m.with(format!("{UNIT_KEY_PREFIX}{}", q.as_str()), q.unit().to_owned());
            }
        }
        m
    }

    /// Check that a file's schema metadata says it belongs to this
    /// recording. Files without the keys (written by older vigil) pass.
    pub fn check_identity(&self, file: &Path, metadata: &arrow_schema::Metadata) -> Result<(), ReadError> {
        let refuse = |message: String| Err(ReadError::Identity { file: file.to_owned(), message });
        // One byte off is a damaged file of this recording (a flipped bit),
        // not a file of another: ids differ in their time and random part.
        let other =
            |a: &str, b: &str| a.len() != b.len() || a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() > 1;
        if let Some(id) = metadata.get(ID_KEY)
            && other(id, &self.id)
        {
            return refuse(format!("written for recording `{id}`, not `{}` (session.json)", self.id));
        }
        if let Some(p) = metadata.get(PARTICIPANT_KEY)
            && self.participant.as_deref().is_none_or(|q| other(p, q))
        {
            return refuse(format!(
                "written for participant `{p}`, not `{}` (session.json)",
                self.participant.as_deref().unwrap_or("anon")
            ));
        }
        // Not checked against session.json's version: a resumed recording's
        // older segments keep the version they were written in.
        if let Some(v) = metadata.get(FORMAT_VERSION_KEY)
            && v.parse::<u32>().map_or(true, |v| v > FORMAT_VERSION)
        {
            return refuse(format!("format version `{v}` is newer than this vigil understands ({FORMAT_VERSION})"));
        }
        Ok(())
    }

    /// Replace `session.json` atomically (temporary file, fsync, rename), so a
    /// crash leaves either the old or the new version, never half of one.
    pub fn write(&self, dir: &Path) -> Result<(), RecordError> {
        self.write_with(dir, true)
    }

    /// Write `session.json`, fsyncing it before the rename only if `sync`.
    /// Unsynced is for a new recording's first write: there is no older
    /// file a power cut could leave replaced by an empty one, and the
    /// recorder thread fsyncs it (and the directory) as it starts, off the
    /// session's critical path.
    pub fn write_with(&self, dir: &Path, sync: bool) -> Result<(), RecordError> {
        let path = dir.join(META_FILE);
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        let io = |source| RecordError::Io { path: tmp.clone(), source };
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| RecordError::Meta { file: path.clone(), message: e.to_string() })?;
        let written = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&text)?;
                f.write_all(b"\n")?;
                if sync { f.sync_all() } else { Ok(()) }
            })
            .map_err(io)
            .and_then(|()| fs::rename(&tmp, &path).map_err(|source| RecordError::Io { path: path.clone(), source }));
        if written.is_err() {
            // No error leaves the temporary file behind.
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}

/// Participant codes are pseudonyms: 1–32 of `A–Z a–z 0–9 _ -`. Anything
/// else (a space, a dot, an accent) is refused, because it is most likely a
/// real name and recordings are health data.
pub fn validate_participant(code: &str) -> Result<(), RecordError> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(RecordError::Participant(crate::excerpt::excerpt(code))) }
}

/// Longest `--protocol` or `--visit`.
const MAX_LABEL: usize = 64;
/// Longest `--note`.
const MAX_NOTE: usize = 2000;

/// `--protocol` and `--visit` name a study's protocol and visit: 1–64 of
/// `A–Z a–z 0–9 _ - .`, so they can name files and BIDS entities. `flag`
/// names the option in the error.
pub fn validate_label(flag: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_LABEL
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{flag} `{}` refused: use 1–{MAX_LABEL} letters, digits, `_`, `-` or `.`",
            crate::excerpt::excerpt(value)
        ))
    }
}

/// A `--note` is free text of one line, up to 2000 characters. Notes go
/// into `session.json` as they are: they must not name the participant.
pub fn validate_note(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err("--note is empty: give the note's text".to_owned())
    } else if value.chars().count() > MAX_NOTE {
        Err(format!("--note is longer than {MAX_NOTE} characters"))
    } else if value.chars().any(char::is_control) {
        Err(format!(
            "--note `{}` refused: it holds a control character (a line break?)",
            crate::excerpt::excerpt(value)
        ))
    } else {
        Ok(())
    }
}

/// `YYYYMMDDTHHMMSSZ-<participant or anon>-<8 hex>`.
#[must_use]
pub fn dir_name(start_utc: DateTime<Utc>, participant: Option<&str>) -> String {
    format!("{}-{}-{:08x}", start_utc.format("%Y%m%dT%H%M%SZ"), participant.unwrap_or("anon"), random_u32())
}

/// A random suffix so two sessions started in the same second never share a
/// directory. std's `RandomState` is seeded from the OS per process and
/// randomised per instance, which is all the entropy a directory name needs
/// (no extra dependency on `rand`'s OS feature).
fn random_u32() -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    (h.finish() >> 32) as u32
}

mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time: {e}")))
    }
}

mod rfc3339_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` hands us `&Option<T>`
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(&text)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| serde::de::Error::custom(format!("`{text}` is not an RFC 3339 time: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_codes_are_pseudonyms() {
        for ok in ["P01", "anon-3", "a_b", "X"] {
            assert!(validate_participant(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Jane Doe", "jane.doe", "Zoë", "../x", &"a".repeat(33)] {
            assert!(validate_participant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dir_names_follow_the_layout() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        let name = dir_name(t, Some("P01"));
        assert!(name.starts_with("20260102T030405Z-P01-"), "{name}");
        assert_eq!(name.len(), "20260102T030405Z-P01-".len() + 8);
        assert!(dir_name(t, None).starts_with("20260102T030405Z-anon-"));
    }
}
