"""The test peripheral: BlueZ's example GATT server (adapted to hci1 by
guest.sh, loaded here as a module, not copied) plus a Health Thermometer
service built from the example's own classes, so the indication path
(0x2A1C, indicate) is exercised next to the Heart Rate notifications.

    python3 -u peripheral.py /tmp/example-gatt-server

Prints what it sends: the example's `Updating value: [...]` lines for heart
rate, and `Thermometer value: HEX` for each temperature indication.
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


example_init = gatt.Application.__init__


def application_init(self, bus):
    example_init(self, bus)
    self.add_service(ThermometerService(bus, len(self.services)))


gatt.Application.__init__ = application_init
gatt.main()
