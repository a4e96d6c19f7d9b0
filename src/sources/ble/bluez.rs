//! The btleplug (BlueZ over D-Bus) side: opening the adapter, scanning, and
//! the [`Link`] a device's supervisor drives.

use std::collections::{BTreeSet, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use btleplug::api::{
    BDAddr, Central as _, CentralEvent, CentralState, CharPropFlags, Manager as _, Peripheral as _, ScanFilter,
    ValueNotification, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::{Stream, StreamExt};
use uuid::Uuid;

use super::supervisor::{AcquireError, Acquired, EcgStart, Link, LinkEvent};
use super::{ADAPTER_ENV, BleError, SUBSCRIBED_CHARACTERISTICS, SUPPORTED_SERVICES, ScanEntry, Selector};
use crate::gatt::pmd;
use crate::model::{Characteristic, DeviceInfo};

/// How long one attempt looks for the device before backing off.
const FIND_TIMEOUT: Duration = Duration::from_secs(10);
/// BlueZ gives up an LE connection after about 40 s on its own; an attempt
/// that takes this long is better retried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Service discovery, reads and subscriptions, each.
const GATT_TIMEOUT: Duration = Duration::from_secs(15);
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// Writing the ECG stop command when the session ends.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// HCI's "RSSI not available".
const RSSI_UNAVAILABLE: i16 = 127;

const MANUFACTURER: u16 = 0x2A29;
const MODEL: u16 = 0x2A24;
const FIRMWARE: u16 = 0x2A26;
const BATTERY_LEVEL: u16 = 0x2A19;

type Events = Pin<Box<dyn Stream<Item = CentralEvent> + Send>>;
type Notifications = Pin<Box<dyn Stream<Item = ValueNotification> + Send>>;

/// Map a btleplug failure to what the user should do. BlueZ reports most
/// problems as D-Bus errors, distinguishable only by their names, which the
/// `Debug` text carries (the `Display` text has the message only).
pub(super) fn classify(context: &'static str, err: &btleplug::Error) -> BleError {
    match err {
        btleplug::Error::PermissionDenied => {
            return BleError::PermissionDenied { detail: err.to_string() };
        }
        btleplug::Error::NoAdapterAvailable => return BleError::NoAdapter,
        _ => {}
    }
    classify_text(context, &err.to_string(), &format!("{err:?}"))
}

fn classify_text(context: &'static str, display: &str, debug: &str) -> BleError {
    let detail = display.to_owned();
    let has = |needle: &str| debug.contains(needle) || display.contains(needle);
    if has("AccessDenied") || has("NotPermitted") || has("Permission denied") || has("NotAuthorized") {
        // D-Bus appends the whole matched rule to "Rejected send message";
        // the first clause is what a user can read.
        let detail = detail.split([',', ';']).next().unwrap_or_default().trim().to_owned();
        BleError::PermissionDenied { detail }
    } else if has("ServiceUnknown")
        || has("org.bluez was not provided")
        || has("NameHasNoOwner")
        // D-Bus tried to start bluetoothd on demand and that failed (no
        // systemd, or the unit disabled).
        || has("DBus.Error.Spawn")
        || has("dbus-org.bluez.service")
    {
        BleError::NoBluez { detail }
    } else if has("DBus.Error.FileNotFound") || has("NoServer") || has("system_bus_socket") || has("Connection refused")
    {
        BleError::NoDbus { detail }
    } else if has("NotReady") {
        BleError::PoweredOff { adapter: "(default)".into() }
    } else {
        BleError::Bluetooth { context, detail }
    }
}

/// `hci0 (usb:v1D6Bp0246d0537)` → `hci0`.
fn adapter_name(info: &str) -> &str {
    info.split_whitespace().next().unwrap_or(info)
}

/// The adapter named by [`ADAPTER_ENV`], else the first by name; it must be
/// powered.
pub(super) async fn open_adapter() -> Result<Adapter, BleError> {
    let manager = Manager::new().await.map_err(|e| classify("connecting to D-Bus", &e))?;
    let adapters = manager.adapters().await.map_err(|e| classify("listing adapters", &e))?;
    let mut named = Vec::with_capacity(adapters.len());
    for adapter in adapters {
        let info = adapter.adapter_info().await.map_err(|e| classify("reading adapter info", &e))?;
        named.push((adapter_name(&info).to_owned(), adapter));
    }
    if named.is_empty() {
        return Err(BleError::NoAdapter);
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let wanted = std::env::var(ADAPTER_ENV).ok().filter(|w| !w.is_empty());
    let (name, adapter) = match wanted {
        Some(wanted) => {
            let present = named.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
            let found = named.into_iter().find(|(n, _)| *n == wanted);
            found.ok_or(BleError::AdapterNotFound { wanted, present })?
        }
        None => named.into_iter().next().ok_or(BleError::NoAdapter)?,
    };
    match adapter.adapter_state().await.map_err(|e| classify("reading adapter state", &e))? {
        CentralState::PoweredOn => {
            tracing::info!(adapter = %name, "using Bluetooth adapter");
            Ok(adapter)
        }
        _ => Err(BleError::PoweredOff { adapter: name }),
    }
}

/// A 16-bit SIG number from a full UUID on the Bluetooth base.
fn short_uuid(uuid: Uuid) -> Option<u16> {
    Characteristic::from_uuid(uuid.as_u128()).short()
}

fn sig_uuid(short: u16) -> Uuid {
    Uuid::from_u128(Characteristic::from_u16(short).uuid())
}

fn supported_services(uuids: &[Uuid]) -> Vec<u16> {
    let set: BTreeSet<u16> =
        uuids.iter().filter_map(|u| short_uuid(*u)).filter(|s| SUPPORTED_SERVICES.contains(s)).collect();
    set.into_iter().collect()
}

/// Start discovery; one already running (another device's search, or
/// `scan`) is fine.
async fn ensure_scanning(adapter: &Adapter, filter: ScanFilter) -> Result<(), btleplug::Error> {
    match adapter.start_scan(filter).await {
        Err(e) if format!("{e:?}").contains("InProgress") => Ok(()),
        other => other,
    }
}

pub(super) async fn scan(adapter: &Adapter, timeout: Duration) -> Result<Vec<ScanEntry>, BleError> {
    // A service-filtered discovery also sees sensors that advertise without
    // the discoverable flag (BlueZ drops those from an unfiltered one).
    let filter = ScanFilter { services: SUPPORTED_SERVICES.iter().map(|s| sig_uuid(*s)).collect() };
    ensure_scanning(adapter, filter).await.map_err(|e| classify("starting a scan", &e))?;
    tokio::time::sleep(timeout).await;
    let peripherals = adapter.peripherals().await.map_err(|e| classify("listing scanned devices", &e))?;
    let mut entries = Vec::new();
    for p in peripherals {
        let Ok(Some(props)) = p.properties().await else {
            continue;
        };
        let services = supported_services(&props.services);
        // BlueZ keeps devices from earlier scans; an RSSI means seen now.
        if services.is_empty() || props.rssi.is_none() {
            continue;
        }
        entries.push(ScanEntry {
            name: props.local_name.or(props.advertisement_name),
            address: props.address.to_string().to_ascii_uppercase(),
            rssi: props.rssi.filter(|r| *r != RSSI_UNAVAILABLE),
            services,
        });
    }
    // Only now: BlueZ drops the RSSI of every device when discovery stops.
    let _ = adapter.stop_scan().await;
    entries.sort_by(|a, b| b.rssi.cmp(&a.rssi).then_with(|| a.address.cmp(&b.address)));
    Ok(entries)
}

/// One chosen device, reached through BlueZ.
pub(super) struct BtleLink {
    target: Target,
    connected: Option<Connected>,
}

/// What to look for, where. Kept apart from the streams in [`Connected`]
/// (which are `Send` but not `Sync`) so finding the device can borrow it
/// across awaits in a `Send` future.
struct Target {
    adapter: Adapter,
    selector: Selector,
}

struct Connected {
    peripheral: Peripheral,
    id: PeripheralId,
    events: Events,
    notifications: Notifications,
    /// Notifications that arrived while acquisition waited for the ECG
    /// start's answer, delivered first.
    early: VecDeque<ValueNotification>,
    /// The PMD control point, when ECG was started on this connection.
    ecg_control: Option<btleplug::api::Characteristic>,
}

impl std::fmt::Debug for BtleLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BtleLink")
            .field("selector", &self.target.selector)
            .field("connected", &self.connected.is_some())
            .finish()
    }
}

fn err(context: &str, e: impl std::fmt::Display) -> AcquireError {
    AcquireError(format!("{context}: {e}"))
}

async fn within<T>(
    what: &str,
    limit: Duration,
    f: impl Future<Output = Result<T, btleplug::Error>>,
) -> Result<T, AcquireError> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(err(what, e)),
        Err(_) => Err(AcquireError(format!("{what}: no answer within {} s", limit.as_secs()))),
    }
}

impl BtleLink {
    pub(super) fn new(adapter: Adapter, selector: Selector) -> Self {
        Self { target: Target { adapter, selector }, connected: None }
    }
}

impl Target {
    fn matches(&self, address: BDAddr, name: Option<&str>) -> bool {
        match &self.selector {
            Selector::Address(a) => address.to_string().eq_ignore_ascii_case(a),
            Selector::Name(n) => name == Some(n.as_str()),
        }
    }

    /// Wait for the chosen device to show up in discovery. `events` begins
    /// with the devices BlueZ already knows, so a device seen earlier is
    /// tried at once.
    async fn find(&self, events: &mut Events) -> Result<(Peripheral, Option<i16>), AcquireError> {
        ensure_scanning(&self.adapter, ScanFilter::default()).await.map_err(|e| err("starting discovery", e))?;
        let search = async {
            while let Some(event) = events.next().await {
                let id = match event {
                    CentralEvent::DeviceDiscovered(id)
                    | CentralEvent::DeviceUpdated(id)
                    | CentralEvent::ServicesAdvertisement { id, .. }
                    | CentralEvent::RssiUpdate { id, .. } => id,
                    _ => continue,
                };
                let Ok(p) = self.adapter.peripheral(&id).await else {
                    continue;
                };
                let Ok(Some(props)) = p.properties().await else {
                    continue;
                };
                let name = props.local_name.as_deref().or(props.advertisement_name.as_deref());
                if self.matches(props.address, name) {
                    return Ok((p, props.rssi.filter(|r| *r != RSSI_UNAVAILABLE)));
                }
            }
            Err(AcquireError("the adapter's event stream ended".into()))
        };
        let (p, rssi) = match tokio::time::timeout(FIND_TIMEOUT, search).await {
            Ok(found) => found?,
            Err(_) => {
                return Err(AcquireError(format!("`{}` not found within {} s", self.selector, FIND_TIMEOUT.as_secs())));
            }
        };
        if let Selector::Name(name) = &self.selector {
            self.refuse_ambiguous_name(name, p.address()).await?;
        }
        Ok((p, rssi))
    }

    /// In a clinic several patients' sensors of one model are in range: a
    /// name that more than one device in range answers to is no choice.
    async fn refuse_ambiguous_name(&self, name: &str, chosen: BDAddr) -> Result<(), AcquireError> {
        let all = self.adapter.peripherals().await.map_err(|e| err("listing devices", e))?;
        let mut others = Vec::new();
        for p in all {
            if p.address() == chosen {
                continue;
            }
            if let Ok(Some(props)) = p.properties().await
                && props.rssi.is_some()
                && props.local_name.as_deref() == Some(name)
            {
                others.push(props.address.to_string());
            }
        }
        if others.is_empty() {
            Ok(())
        } else {
            Err(AcquireError(format!(
                "several devices in range are named `{name}` ({chosen}, {}): choose one by address",
                others.join(", ")
            )))
        }
    }

    async fn read_string(&self, p: &Peripheral, short: u16) -> Option<String> {
        let c = p.characteristics().into_iter().find(|c| c.uuid == sig_uuid(short))?;
        let bytes = tokio::time::timeout(GATT_TIMEOUT, p.read(&c)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&bytes).trim_end_matches('\0').trim().to_owned();
        (!text.is_empty()).then_some(text)
    }
}

impl Link for BtleLink {
    async fn acquire(&mut self) -> Result<Acquired, AcquireError> {
        self.connected = None;
        // Subscribe to adapter events before connecting so a disconnection
        // right after the connection is not missed.
        let target = &self.target;
        let mut events = target.adapter.events().await.map_err(|e| err("listening to the adapter", e))?;
        let (p, rssi) = target.find(&mut events).await?;
        let id = p.id();
        if !p.is_connected().await.unwrap_or(false) {
            within("connecting", CONNECT_TIMEOUT, p.connect()).await?;
        }
        within("discovering services", GATT_TIMEOUT, p.discover_services()).await?;
        let mut notifications = within("opening notifications", GATT_TIMEOUT, p.notifications()).await?;

        let props = p.properties().await.ok().flatten();
        let services = {
            let uuids: Vec<Uuid> = p.services().iter().map(|s| s.uuid).collect();
            let mut all: Vec<u16> = uuids.iter().filter_map(|u| short_uuid(*u)).collect();
            all.sort_unstable();
            all.dedup();
            all
        };
        let mut subscribed = Vec::new();
        let mut reads = Vec::new();
        for c in p.characteristics() {
            let Some(short) = short_uuid(c.uuid) else {
                continue;
            };
            if !SUBSCRIBED_CHARACTERISTICS.contains(&short) {
                continue;
            }
            if c.properties.intersects(CharPropFlags::NOTIFY | CharPropFlags::INDICATE) {
                within(&format!("subscribing to {short:04x}"), GATT_TIMEOUT, p.subscribe(&c)).await?;
                subscribed.push(Characteristic::from_u16(short));
            }
            if short == BATTERY_LEVEL && c.properties.contains(CharPropFlags::READ) {
                // A battery that cannot be read now will notify later.
                match tokio::time::timeout(GATT_TIMEOUT, p.read(&c)).await {
                    Ok(Ok(v)) => reads.push((Characteristic::BatteryLevel, v)),
                    other => tracing::info!(?other, "battery level not read"),
                }
            }
        }
        let mut early = VecDeque::new();
        let (ecg, ecg_control) = match pmd_characteristics(&p) {
            Some((control, data)) => {
                within("subscribing to PMD data", GATT_TIMEOUT, p.subscribe(&data)).await?;
                subscribed.push(pmd::DATA_CHARACTERISTIC);
                let start = start_ecg(&p, &control, &mut notifications, &mut early).await;
                let started = start == EcgStart::Started;
                (Some(start), started.then_some(control))
            }
            None => (None, None),
        };
        if subscribed.is_empty() {
            // Nothing to listen to: a sensor whose GATT server is not up yet
            // (or the wrong device). Staying connected would be a silent
            // "connection"; drop it and look again later.
            let _ = tokio::time::timeout(RELEASE_TIMEOUT, p.disconnect()).await;
            let offered: Vec<String> = services.iter().map(|s| format!("{s:04x}")).collect();
            return Err(AcquireError(format!(
                "connected, but it offers none of the characteristics vigil reads (services: {})",
                offered.join(" ")
            )));
        }
        let info = DeviceInfo {
            manufacturer: target.read_string(&p, MANUFACTURER).await,
            model: target.read_string(&p, MODEL).await,
            firmware: target.read_string(&p, FIRMWARE).await,
        };
        let info = (info != DeviceInfo::default()).then_some(info);
        let name = props.as_ref().and_then(|pr| pr.local_name.clone().or(pr.advertisement_name.clone()));
        let address = Some(p.address().to_string().to_ascii_uppercase());
        self.connected = Some(Connected { peripheral: p, id, events, notifications, early, ecg_control });
        Ok(Acquired { name, address, services, info, reads, rssi, subscribed, ecg })
    }

    async fn next_event(&mut self) -> LinkEvent {
        let Some(c) = self.connected.as_mut() else {
            return LinkEvent::Lost { reason: "not connected".into() };
        };
        if let Some(n) = c.early.pop_front() {
            return LinkEvent::Notification {
                characteristic: Characteristic::from_uuid(n.uuid.as_u128()),
                value: n.value,
            };
        }
        loop {
            tokio::select! {
                n = c.notifications.next() => return match n {
                    Some(n) => LinkEvent::Notification {
                        characteristic: Characteristic::from_uuid(n.uuid.as_u128()),
                        value: n.value,
                    },
                    None => LinkEvent::Lost { reason: "notification stream ended".into() },
                },
                e = c.events.next() => match e {
                    Some(CentralEvent::DeviceDisconnected(id)) if id == c.id => {
                        return LinkEvent::Lost { reason: "link lost".into() };
                    }
                    Some(CentralEvent::RssiUpdate { id, rssi }) if id == c.id && rssi != RSSI_UNAVAILABLE => {
                        return LinkEvent::Rssi(rssi);
                    }
                    Some(CentralEvent::StateUpdate(CentralState::PoweredOff)) => {
                        return LinkEvent::Lost { reason: "adapter powered off".into() };
                    }
                    Some(_) => {}
                    None => return LinkEvent::Lost { reason: "adapter event stream ended".into() },
                },
            }
        }
    }

    async fn release(&mut self) {
        if let Some(c) = self.connected.take() {
            let _ = tokio::time::timeout(RELEASE_TIMEOUT, c.peripheral.disconnect()).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(control) = self.connected.as_ref().and_then(|c| c.ecg_control.clone())
            && let Some(c) = &self.connected
        {
            let write = c.peripheral.write(&control, &pmd::STOP_ECG, WriteType::WithResponse);
            match tokio::time::timeout(STOP_TIMEOUT, write).await {
                Ok(Ok(())) => tracing::info!("ECG stop written"),
                other => tracing::warn!(?other, "ECG stop not written"),
            }
        }
        self.release().await;
    }
}

/// Polar's PMD control point and data characteristic, when the device has
/// both with the properties ECG needs.
fn pmd_characteristics(p: &Peripheral) -> Option<(btleplug::api::Characteristic, btleplug::api::Characteristic)> {
    let all = p.characteristics();
    let find = |uuid: u128, needs: CharPropFlags| {
        all.iter().find(|c| c.uuid.as_u128() == uuid && c.properties.intersects(needs)).cloned()
    };
    let control = find(pmd::CONTROL_POINT, CharPropFlags::WRITE)?;
    let data = find(pmd::DATA, CharPropFlags::NOTIFY)?;
    control.properties.contains(CharPropFlags::INDICATE).then_some((control, data))
}

/// Subscribe to the control point, write the ECG start command and wait for
/// its answer. Other notifications that arrive meanwhile (the first ECG
/// frames, heart rate) are kept in `early`. Never fails the acquisition:
/// heart rate goes on without ECG, and the refusal becomes `tech.ecg`.
async fn start_ecg(
    p: &Peripheral,
    control: &btleplug::api::Characteristic,
    notifications: &mut Notifications,
    early: &mut VecDeque<ValueNotification>,
) -> EcgStart {
    if let Err(e) = within("subscribing to the PMD control point", GATT_TIMEOUT, p.subscribe(control)).await {
        return EcgStart::Refused(e.0);
    }
    let write = p.write(control, &pmd::START_ECG, WriteType::WithResponse);
    if let Err(e) = within("writing the ECG start command", GATT_TIMEOUT, write).await {
        return EcgStart::Refused(e.0);
    }
    let answer = async {
        while let Some(n) = notifications.next().await {
            if n.uuid.as_u128() != pmd::CONTROL_POINT {
                early.push_back(n);
                continue;
            }
            match pmd::decode_control(&n.value) {
                Ok(r) if r.op == pmd::START_ECG[0] => return Some(r),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "PMD control point answer not understood"),
            }
        }
        None
    };
    match tokio::time::timeout(GATT_TIMEOUT, answer).await {
        Ok(Some(r)) if r.ok() => EcgStart::Started,
        Ok(Some(r)) => {
            EcgStart::Refused(format!("the strap refused to start ECG: {} (status {})", r.status_name(), r.status))
        }
        Ok(None) => EcgStart::Refused("the notification stream ended before the ECG start was answered".into()),
        Err(_) => EcgStart::Refused(format!("no answer to the ECG start command within {} s", GATT_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbus_failures_map_to_what_to_do() {
        let no_bus = "D-Bus error: Failed to connect to socket /run/dbus/system_bus_socket: No such file or directory (org.freedesktop.DBus.Error.FileNotFound)";
        assert!(matches!(classify_text("x", "Failed to connect", no_bus), BleError::NoDbus { .. }));
        let no_bluez = "Other(DbusError(D-Bus error: The name org.bluez was not provided by any .service files (org.freedesktop.DBus.Error.ServiceUnknown)))";
        assert!(matches!(
            classify_text("x", "The name org.bluez was not provided", no_bluez),
            BleError::NoBluez { .. }
        ));
        let spawn = "Other(DbusError(D-Bus error: Launch helper exited with unknown return code 1 (org.freedesktop.DBus.Error.Spawn.ChildExited)))";
        assert!(matches!(classify_text("x", "Launch helper exited", spawn), BleError::NoBluez { .. }));
        let denied = "Other(DbusError(D-Bus error: Rejected send message (org.freedesktop.DBus.Error.AccessDenied)))";
        let long = "Rejected send message, 3 matched rules; type=\"method_call\", sender=\":1.9\"";
        let e = classify_text("x", long, denied);
        assert!(matches!(&e, BleError::PermissionDenied { detail } if detail == "Rejected send message"), "{e}");
        let not_ready = "Other(DbusError(D-Bus error: Resource Not Ready (org.bluez.Error.NotReady)))";
        assert!(matches!(classify_text("x", "Resource Not Ready", not_ready), BleError::PoweredOff { .. }));
        let other = classify_text("starting a scan", "Operation failed", "Other(Failed)");
        assert_eq!(other.to_string(), "Bluetooth failed while starting a scan: Operation failed");
        assert!(matches!(classify("x", &btleplug::Error::PermissionDenied), BleError::PermissionDenied { .. }));
        assert!(matches!(classify("x", &btleplug::Error::NoAdapterAvailable), BleError::NoAdapter));
    }

    #[test]
    fn every_setup_error_says_what_to_do() {
        let errors = [
            BleError::NoDbus { detail: "d".into() },
            BleError::NoBluez { detail: "d".into() },
            BleError::NoAdapter,
            BleError::PoweredOff { adapter: "hci0".into() },
            BleError::PermissionDenied { detail: "d".into() },
        ];
        for e in errors {
            let msg = e.to_string();
            assert!(msg.contains("; ") && !msg.contains('\n'), "{msg}");
            assert!(["start", "plug", "turn", "run vigil"].iter().any(|w| msg.contains(w)), "{msg}");
        }
    }

    #[test]
    fn uuids_map_to_supported_services() {
        let uuids = [sig_uuid(0x180D), sig_uuid(0x180F), sig_uuid(0x1809), Uuid::from_u128(0x1234)];
        assert_eq!(supported_services(&uuids), vec![0x1809, 0x180D]);
        assert_eq!(adapter_name("hci0 (usb:v1D6Bp0246d0537)"), "hci0");
    }
}
