//! The session's device table: every device the session knows, numbered in
//! the order it was admitted, with the setup its profile gives and the name
//! and address its source reported.
//!
//! The session makes one table (`[session] max_devices` entries at most)
//! and hands a clone to each part that meets device labels: the stream
//! source, which turns a line naming one device too many into a bad line
//! with its number, and the alarm engine, which the pipeline holds: both keep
//! their per-device state in vectors indexed by the table's [`DeviceId`].
//! A label is checked here before anything allocates state for it (history
//! rings, alarm instances), so input that names ever new devices costs
//! memory for at most `max_devices` of them.
//!
//! Clones share one table behind a mutex: sources run on their own tasks.
//! A lookup is a lock and a hash of a short string, a few tens of
//! nanoseconds against DESIGN.md's budget of a microsecond per notification.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::devices::DeviceSetup;
use crate::model::{DeviceLabel, MANUAL_DEVICE};

pub use crate::config::DEFAULT_MAX_DEVICES;

/// A device's number in its session's table, given when the device is
/// admitted: the one id by which the pipeline, the alarm engine and the
/// sources know a device. Only the table makes one, so an id is always
/// that of a device the table holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(usize);

impl DeviceId {
    /// The position in admission order (0 for the first device): what
    /// per-device vectors are indexed by.
    #[must_use]
    pub fn index(self) -> usize {
        self.0
    }
}

/// A label the table had no room for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device `{label}` would be device {}; this session takes at most {max} (max_devices)", .max + 1)]
pub struct TableFull {
    pub label: String,
    pub max: usize,
}

/// The session's devices; clones share one table.
#[derive(Debug, Clone)]
pub struct DeviceTable {
    inner: Arc<Mutex<Inner>>,
}

/// One device of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEntry {
    pub label: DeviceLabel,
    /// From the session plan or a profile matched on connection; `None`:
    /// not known yet.
    pub setup: Option<DeviceSetup>,
    /// Advertised name and address, as the source last reported them.
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug)]
struct Inner {
    max: usize,
    /// Sensors admitted so far (the `manual` pseudo-device is not one).
    sensors: usize,
    entries: Vec<DeviceEntry>,
    index: HashMap<DeviceLabel, usize>,
}

impl DeviceTable {
    /// An empty table that admits at most `max_devices` sensors. The
    /// `manual` pseudo-device (readings entered by hand) is always
    /// admitted: the operator's entries are never refused for room.
    #[must_use]
    pub fn new(max_devices: usize) -> Self {
        let inner = Inner { max: max_devices, sensors: 0, entries: Vec::new(), index: HashMap::new() };
        Self { inner: Arc::new(Mutex::new(inner)) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The table is consistent after every statement that changes it, so
        // a panic elsewhere while it was held leaves nothing half done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[must_use]
    pub fn max_devices(&self) -> usize {
        self.lock().max
    }

    /// `label`'s id and the table's own copy of the label (shared with
    /// every holder, so a source that admits the same device on each line
    /// keeps one string), admitting it if there is room.
    pub fn admit(&self, label: &str) -> Result<(DeviceId, DeviceLabel), TableFull> {
        let mut inner = self.lock();
        if let Some((known, &i)) = inner.index.get_key_value(label) {
            return Ok((DeviceId(i), known.clone()));
        }
        let sensor = label != MANUAL_DEVICE;
        if sensor && inner.sensors >= inner.max {
            return Err(TableFull { label: label.to_owned(), max: inner.max });
        }
        let label = DeviceLabel::new(label);
        let i = inner.entries.len();
        inner.entries.push(DeviceEntry { label: label.clone(), setup: None, name: None, address: None });
        inner.index.insert(label.clone(), i);
        inner.sensors += usize::from(sensor);
        Ok((DeviceId(i), label))
    }

    /// `label`'s id, if it has been admitted.
    #[must_use]
    pub fn id_of(&self, label: &str) -> Option<DeviceId> {
        self.lock().index.get(label).copied().map(DeviceId)
    }

    /// The label of device `id`.
    #[must_use]
    pub fn label(&self, id: DeviceId) -> Option<DeviceLabel> {
        self.lock().entries.get(id.0).map(|e| e.label.clone())
    }

    /// The devices from index `first` on (the `first` admitted are left
    /// out), in index order: what a holder that has met only `first` of
    /// them lacks.
    #[must_use]
    pub fn devices_from(&self, first: usize) -> Vec<(DeviceId, DeviceLabel)> {
        let inner = self.lock();
        let rest = inner.entries.iter().enumerate().skip(first);
        rest.map(|(i, e)| (DeviceId(i), e.label.clone())).collect()
    }

    /// How many devices have been admitted (the `manual` pseudo-device too).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Admit `label` with its profile's setup.
    pub fn declare(&self, label: &str, setup: DeviceSetup) -> Result<DeviceId, TableFull> {
        let (id, _) = self.admit(label)?;
        if let Some(entry) = self.lock().entries.get_mut(id.0) {
            entry.setup = Some(setup);
        }
        Ok(id)
    }

    /// The setup device `id` was declared or matched with, if any.
    #[must_use]
    pub fn setup(&self, id: DeviceId) -> Option<DeviceSetup> {
        self.lock().entries.get(id.0).and_then(|e| e.setup)
    }

    /// What a connection told of device `id`: a name or address it gave
    /// replaces the one known, one it did not give is kept.
    pub fn set_link(&self, id: DeviceId, name: Option<&str>, address: Option<&str>) {
        if let Some(entry) = self.lock().entries.get_mut(id.0) {
            if let Some(name) = name {
                entry.name = Some(name.to_owned());
            }
            if let Some(address) = address {
                entry.address = Some(address.to_owned());
            }
        }
    }

    /// Device `id` as the table knows it.
    #[must_use]
    pub fn entry(&self, id: DeviceId) -> Option<DeviceEntry> {
        self.lock().entries.get(id.0).cloned()
    }
}

impl Default for DeviceTable {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_DEVICES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_then_names_the_label_and_the_limit() {
        let table = DeviceTable::new(2);
        assert_eq!(table.admit("a").map(|(id, _)| id.index()), Ok(0));
        assert_eq!(table.admit("b").map(|(id, _)| id.index()), Ok(1));
        assert_eq!(table.admit("a").map(|(id, _)| id.index()), Ok(0), "a known label is found, not added");
        let full = table.admit("c").expect_err("a third sensor is one too many");
        assert_eq!(full.to_string(), "device `c` would be device 3; this session takes at most 2 (max_devices)");
        assert_eq!(table.len(), 2);
        assert_eq!(table.id_of("c"), None);
    }

    #[test]
    fn the_manual_pseudo_device_does_not_take_a_sensors_place() {
        let table = DeviceTable::new(1);
        table.admit("chest").expect("room for one sensor");
        assert_eq!(table.admit(MANUAL_DEVICE).map(|(id, _)| id.index()), Ok(1));
        assert!(table.admit("thermo").is_err());
    }

    #[test]
    fn clones_share_one_table_and_labels_share_one_string() {
        let table = DeviceTable::new(4);
        let other = table.clone();
        let (_, first) = table.admit("chest").expect("room");
        let (id, second) = other.admit("chest").expect("known");
        assert_eq!(id.index(), 0);
        assert!(std::ptr::eq(first.as_str(), second.as_str()));
        assert_eq!(other.label(id), Some(first));
    }

    #[test]
    fn a_declared_device_keeps_its_setup() {
        let table = DeviceTable::default();
        let setup = DeviceSetup { env_quantity: crate::model::Quantity::SkinTemperatureC, ..DeviceSetup::default() };
        let i = table.declare("patch", setup).expect("room");
        assert_eq!(table.setup(i), Some(setup));
        table.set_link(i, Some("Patch 1"), Some("AA:BB"));
        table.set_link(i, None, Some("CC:DD"));
        let entry = table.entry(i).expect("admitted");
        assert_eq!((entry.name.as_deref(), entry.address.as_deref()), (Some("Patch 1"), Some("CC:DD")));
        assert_eq!(table.max_devices(), DEFAULT_MAX_DEVICES);
    }
}
