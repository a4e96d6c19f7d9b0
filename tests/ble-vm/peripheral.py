"""The test peripheral: BlueZ's example GATT server (adapted to an adapter
by guest.sh, loaded here as a module, not copied) plus, built from the
example's own classes:

- a Health Thermometer service, so the indication path (0x2A1C, indicate)
  is exercised next to the Heart Rate notifications;
- Polar's PMD service as a Polar H10 offers it: a control point (write,
  indicate) that answers `F0 <op> <type> <status> <more>` and, after the
  start command, ECG frames on the data characteristic (notify): 73
  samples of 3 bytes, a strap timestamp in ns since 2000 advancing at
  130 Hz.

    python3 -u peripheral.py /tmp/example-gatt-server

Prints what it sends: the example's `Updating value: [...]` lines for heart
rate, `Thermometer value: HEX` for each temperature indication, `PMD start`
and `PMD stop` for each command written, and `ECG frame: HEX` for each
frame.
"""

import importlib.machinery
import importlib.util
import sys

path = sys.argv[1]
loader = importlib.machinery.SourceFileLoader("example_gatt_server", path)
spec = importlib.util.spec_from_loader("example_gatt_server", loader)
gatt = importlib.util.module_from_spec(spec)
loader.exec_module(gatt)

dbus = gatt.dbus
GObject = gatt.GObject

THERMOMETER_SERVICE = "00001809-0000-1000-8000-00805f9b34fb"
TEMPERATURE_MEASUREMENT = "00002a1c-0000-1000-8000-00805f9b34fb"
INTERVAL_MS = 2000


def temperature_payload(centi):
    """Flags 0x04 (Celsius, temperature type present), IEEE-11073 FLOAT
    with exponent -2, temperature type 2 (body)."""
    mantissa = centi & 0xFFFFFF
    return bytes([0x04, mantissa & 0xFF, (mantissa >> 8) & 0xFF, (mantissa >> 16) & 0xFF, 0xFE, 0x02])


class TemperatureMeasurementChrc(gatt.Characteristic):
    def __init__(self, bus, index, service):
        gatt.Characteristic.__init__(self, bus, index, TEMPERATURE_MEASUREMENT, ["indicate"], service)
        self.indicating = False
        self.centi = 3700
        GObject.timeout_add(INTERVAL_MS, self.measure)

    def measure(self):
        if self.indicating:
            payload = temperature_payload(self.centi)
            self.centi = 3700 + (self.centi - 3700 + 7) % 150
            print("Thermometer value: " + payload.hex())
            value = [dbus.Byte(b) for b in payload]
            self.PropertiesChanged(gatt.GATT_CHRC_IFACE, {"Value": value}, [])
        return True

    def StartNotify(self):
        self.indicating = True

    def StopNotify(self):
        self.indicating = False


class ThermometerService(gatt.Service):
    def __init__(self, bus, index):
        gatt.Service.__init__(self, bus, index, THERMOMETER_SERVICE, True)
        self.add_characteristic(TemperatureMeasurementChrc(bus, 0, self))


PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
START_ECG = bytes([0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00])
STOP_ECG = bytes([0x03, 0x00])
ECG_RATE_HZ = 130
ECG_FRAME_SAMPLES = 73
# 2026-01-01 in ns since 2000-01-01 (the strap's clock need not be right).
ECG_CLOCK_START_NS = 820_454_400 * 1_000_000_000


class PmdDataChrc(gatt.Characteristic):
    def __init__(self, bus, index, service):
        gatt.Characteristic.__init__(self, bus, index, PMD_DATA, ["notify"], service)
        self.notifying = False

    def StartNotify(self):
        self.notifying = True

    def StopNotify(self):
        self.notifying = False

    def send(self, payload):
        if self.notifying:
            print("ECG frame: " + payload.hex())
            self.PropertiesChanged(gatt.GATT_CHRC_IFACE, {"Value": [dbus.Byte(b) for b in payload]}, [])


class PmdControlChrc(gatt.Characteristic):
    def __init__(self, bus, index, service, data):
        gatt.Characteristic.__init__(self, bus, index, PMD_CONTROL, ["write", "indicate"], service)
        self.indicating = False
        self.data = data
        self.streaming = False
        self.sample = 0
        self.timer = None

    def StartNotify(self):
        self.indicating = True

    def StopNotify(self):
        self.indicating = False

    def answer(self, op, status):
        if self.indicating:
            payload = bytes([0xF0, op, 0x00, status, 0x00])
            self.PropertiesChanged(gatt.GATT_CHRC_IFACE, {"Value": [dbus.Byte(b) for b in payload]}, [])

    def WriteValue(self, value, options):
        command = bytes(value)
        if command == START_ECG:
            print("PMD start")
            self.answer(0x02, 0x06 if self.streaming else 0x00)
            if not self.streaming:
                self.streaming = True
                self.timer = GObject.timeout_add(ECG_FRAME_SAMPLES * 1000 // ECG_RATE_HZ, self.frame)
        elif command == STOP_ECG:
            print("PMD stop")
            self.streaming = False
            self.answer(0x03, 0x00)
        else:
            print("PMD unknown command: " + command.hex())
            self.answer(command[0] if command else 0, 0x01)

    def frame(self):
        if not self.streaming:
            self.timer = None
            return False
        samples = []
        for _ in range(ECG_FRAME_SAMPLES):
            # A bump of 1,000 uV once a second on a small sawtooth.
            k = self.sample % ECG_RATE_HZ
            uv = 1000 - 100 * abs(k - 5) if k < 10 else (k * 7) % 50 - 25
            samples.append(uv)
            self.sample += 1
        last_ns = ECG_CLOCK_START_NS + (self.sample - 1) * 1_000_000_000 // ECG_RATE_HZ
        payload = bytes([0x00]) + last_ns.to_bytes(8, "little") + bytes([0x00])
        payload += b"".join(v.to_bytes(3, "little", signed=True) for v in samples)
        self.data.send(payload)
        return True


class PmdService(gatt.Service):
    def __init__(self, bus, index):
        gatt.Service.__init__(self, bus, index, PMD_SERVICE, True)
        data = PmdDataChrc(bus, 1, self)
        self.add_characteristic(PmdControlChrc(bus, 0, self, data))
        self.add_characteristic(data)


example_init = gatt.Application.__init__


def application_init(self, bus):
    example_init(self, bus)
    self.add_service(ThermometerService(bus, len(self.services)))
    self.add_service(PmdService(bus, len(self.services)))


gatt.Application.__init__ = application_init
gatt.main()
