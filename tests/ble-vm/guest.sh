#!/bin/bash
# Runs inside the BLE test guest (started by /vigil-init from the 9p share).
#
# hci0 and hci1 are two linked virtual LE controllers (btvirt). BlueZ's own
# example GATT server and advertisement, adapted here at run time to hci1 and
# to a discoverable advertisement, with the thermometer and Polar PMD (ECG)
# services of peripheral.py, are the chest strap; vigil runs on hci0. The
# strap goes away (process killed, hci1 powered off) and comes back; vigil is
# stopped while it still runs, so its ECG stop command can reach it.
# Everything is logged to /share/out for the host's checks.
set -u
out=/share/out
mkdir -p "$out"
mark() { printf '%s %s\n' "$(cut -d' ' -f1 /proc/uptime)" "$*" | tee -a "$out/timeline.log"; }
fail() { mark "GUEST FAIL: $*"; echo "$*" > "$out/guest-failed"; finish; exit 1; }
finish() {
    dmesg > "$out/dmesg.log" 2>&1
    cp /tmp/bluetoothd.log "$out/bluetoothd.log" 2>/dev/null
    sync
}
: > "$out/booted"
mark "guest script started ($(uname -r))"

# shellcheck source=/dev/null
. /share/env
export PATH="/share/bin:$PATH"
export VIGIL_BLE_ADAPTER=hci0
export RUST_LOG="${RUST_LOG:-vigil=debug}"
unset RUST_BACKTRACE

# --- Bluetooth stack ---------------------------------------------------------
modprobe hci_vhci || fail "modprobe hci_vhci"
mkdir -p /run/dbus /var/lib/dbus
dbus-uuidgen --ensure
dbus-daemon --system --fork || fail "dbus-daemon"

scan_cmd=${VIGIL_BLE_SCAN_CMD//\{ADDR\}/}
# What vigil says when Bluetooth is unusable: one sentence, non-zero exit.
setup_error() { # $1 = case name; the rest = how to run the scan
    local name=$1
    shift
    "$@" > "$out/setup-$name.out" 2> "$out/setup-$name.err"
    echo "exit $?" >> "$out/setup-$name.err"
    mark "setup error case $name: $(grep -v '^exit' "$out/setup-$name.err" | tail -1)"
}
bluetoothd=$(ls /usr/libexec/bluetooth/bluetoothd /usr/lib/bluetooth/bluetoothd /usr/sbin/bluetoothd 2>/dev/null | head -1)
bluez_up() {
    dbus-send --system --print-reply --dest=org.bluez / org.freedesktop.DBus.ObjectManager.GetManagedObjects > /dev/null 2>&1
}
setup_error no-bluez bash -c "$scan_cmd"
"$bluetoothd" -n > /tmp/bluetoothd-early.log 2>&1 &
early_pid=$!
for i in $(seq 1 40); do bluez_up && break; sleep 0.5; done
setup_error no-adapter bash -c "$scan_cmd"
kill "$early_pid"; wait "$early_pid" 2>/dev/null

# hciconfig asks the kernel directly (an ioctl): instant, no mgmt timeouts.
addr() { hciconfig "hci$1" 2>/dev/null | awk '/BD Address:/ {print $3; exit}'; }
stuck() { dmesg | grep -c "Opcode 0x0c03 failed"; }

# btvirt sometimes leaves one controller uninitialised (address all zeros,
# kernel: "Opcode 0x0c03 failed: -110"): detect it and start again.
start_btvirt() {
    local attempt i a0 a1 stuck_before
    for attempt in 1 2 3 4 5; do
        stuck_before=$(stuck)
        btvirt -L -l2 > "$out/btvirt.log" 2>&1 &
        btvirt_pid=$!
        a0=""; a1=""
        for i in $(seq 1 60); do
            sleep 1
            a0=$(addr 0); a1=$(addr 1)
            if [ -n "$a0" ] && [ -n "$a1" ] && [ "$a0" != 00:00:00:00:00:00 ] && [ "$a1" != 00:00:00:00:00:00 ]; then
                mark "btvirt attempt $attempt: hci0=$a0 hci1=$a1"
                HCI1_ADDR=$a1
                return 0
            fi
            [ "$(stuck)" -gt "$stuck_before" ] && break
        done
        mark "btvirt attempt $attempt failed: hci0=${a0:-?} hci1=${a1:-?}; restarting it"
        kill "$btvirt_pid" 2>/dev/null; wait "$btvirt_pid" 2>/dev/null
        for i in $(seq 1 40); do [ -e /sys/class/bluetooth/hci0 ] || [ -e /sys/class/bluetooth/hci1 ] || break; sleep 0.25; done
    done
    return 1
}
start_btvirt || fail "btvirt never gave two initialised controllers"

"$bluetoothd" -n ${BLUETOOTHD_DEBUG:+-d} > /tmp/bluetoothd.log 2>&1 &
for i in $(seq 1 40); do
    busctl_ok=$(dbus-send --system --print-reply --dest=org.bluez /org/bluez/hci1 \
        org.freedesktop.DBus.Properties.Get string:org.bluez.Adapter1 string:Address 2>/dev/null | grep -c variant)
    [ "$busctl_ok" = 1 ] && break
    sleep 0.5
done
[ "$busctl_ok" = 1 ] || fail "bluetoothd did not publish hci1"
timeout 10 btmgmt --index 0 power off > /dev/null
setup_error powered-off bash -c "$scan_cmd"
timeout 10 btmgmt --index 0 power on > /dev/null
timeout 10 btmgmt --index 1 power on > /dev/null
# Debian lets every user talk to BlueZ; distributions that restrict it do so
# with a D-Bus policy like this one.
mkdir -p /etc/dbus-1/system.d
cat > /etc/dbus-1/system.d/zz-vigil-test-deny.conf <<'POLICY'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><policy user="nobody"><deny send_destination="org.bluez"/></policy></busconfig>
POLICY
reload_dbus() { dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig > /dev/null; }
reload_dbus
setup_error permission setpriv --reuid=65534 --regid=65534 --clear-groups bash -c "$scan_cmd"
rm -f /etc/dbus-1/system.d/zz-vigil-test-deny.conf
reload_dbus
mark "bluetoothd up, both adapters powered"

# --- the peripheral: BlueZ's examples, bound to hci1 ---------------------------
# The example advertisement carries more than a legacy advertisement's 31
# bytes (bluetoothd: "Advertising data too long"): its demo manufacturer,
# service and raw data go, and the name gets shorter.
# peripheral.py loads the adapted example GATT server and adds a Health
# Thermometer service (indications) and Polar's PMD service to it.
examples=/usr/share/doc/bluez-test-scripts/examples
adapt() {
    local src="$examples/$1"
    if [ -f "$src" ]; then cat "$src"; else zcat "$src.gz"; fi | sed \
        -e "s|if GATT_MANAGER_IFACE in props.keys():|if GATT_MANAGER_IFACE in props.keys() and o.endswith('/hci1'):|" \
        -e "s|if LE_ADVERTISING_MANAGER_IFACE in props:|if LE_ADVERTISING_MANAGER_IFACE in props and o.endswith('/hci1'):|" \
        -e "s|^\( *\)properties\['Type'\] = self.ad_type\$|&\n\1properties['Discoverable'] = dbus.Boolean(True)|" \
        -e "/self.add_manufacturer_data(0xffff/d" -e "/self.add_service_data('9999'/d" -e "/self.add_data(0x26/d" \
        -e "s|self.add_local_name('TestAdvertisement')|self.add_local_name('Vigil HR')|" \
        > "/tmp/$1"
}
adapt example-gatt-server
adapt example-advertisement
grep -q "endswith('/hci1')" /tmp/example-gatt-server || fail "example-gatt-server: adapter selection not found to adapt"
grep -q "endswith('/hci1')" /tmp/example-advertisement || fail "example-advertisement: adapter selection not found to adapt"
grep -q "Discoverable" /tmp/example-advertisement || fail "example-advertisement: properties not found to adapt"

sent() { awk '/^Updating value/ {n++} END {print n+0}' "$out/peripheral.log" 2>/dev/null; }
start_peripheral() {
    echo "=== peripheral start $1" >> "$out/peripheral.log"
    python3 -u /share/peripheral.py /tmp/example-gatt-server >> "$out/peripheral.log" 2>&1 &
    gatt_pid=$!
    python3 -u /tmp/example-advertisement >> "$out/advertisement.log" 2>&1 &
    adv_pid=$!
    for i in $(seq 1 40); do
        grep -q "Advertisement registered" "$out/advertisement.log" 2>/dev/null \
            && [ "$(grep -c 'Advertisement registered' "$out/advertisement.log")" -ge "$1" ] && break
        sleep 0.5
    done
    mark "peripheral $1 started (gatt pid $gatt_pid, advertisement pid $adv_pid)"
}
stop_peripheral() {
    kill "$gatt_pid" "$adv_pid" 2>/dev/null
    wait "$gatt_pid" "$adv_pid" 2>/dev/null
    echo "=== peripheral stop" >> "$out/peripheral.log"
}
wait_sent() { # $1 = total count to reach, $2 = seconds
    local i
    for i in $(seq 1 "$2"); do
        [ "$(sent)" -ge "$1" ] && return 0
        sleep 1
    done
    return 1
}

: > "$out/peripheral.log"
: > "$out/advertisement.log"
start_peripheral 1

# --- vigil ---------------------------------------------------------------------
echo "$HCI1_ADDR" > "$out/hci1-address"
mark "scan: $scan_cmd"
bash -c "$scan_cmd" > "$out/scan.out" 2> "$out/scan.err"
mark "scan exit status $?"

mkdir -p "$out/rec"
cmd=${VIGIL_BLE_CMD//\{ADDR\}/$HCI1_ADDR}
cmd=${cmd//\{REC\}/$out/rec}
mark "vigil: $cmd"
bash -c "exec $cmd" > "$out/vigil.out" 2> "$out/vigil.err" &
vigil_pid=$!

wait_sent "$PHASE_SAMPLES" 120 || mark "WARNING: only $(sent) values sent before the outage"
mark "phase 1: $(sent) heart-rate values sent; the peripheral goes away"
stop_peripheral
timeout 10 btmgmt --index 1 power off > /dev/null
mark "hci1 powered off"
sleep "$AWAY_SECONDS"
timeout 10 btmgmt --index 1 power on > /dev/null
mark "hci1 powered on"
before=$(sent)
start_peripheral 2
wait_sent $((before + PHASE_SAMPLES)) 150 || mark "WARNING: only $(( $(sent) - before )) values sent after coming back"
mark "phase 2: $(( $(sent) - before )) heart-rate values sent after coming back"

# Phase 3: the peripheral's programs stop but the radio link stays up, so
# the stream goes quiet while "connected": vigil's staleness watchdog must
# drop the link and re-acquire the device once it is back.
if [ "${STALE_PHASE:-1}" = 1 ]; then
    stop_peripheral
    mark "peripheral stopped with the link up (stream goes quiet)"
    sleep "$AWAY_SECONDS"
    before=$(sent)
    start_peripheral 3
    wait_sent $((before + PHASE_SAMPLES)) 150 || mark "WARNING: only $(( $(sent) - before )) values sent after the stale phase"
    mark "phase 3: $(( $(sent) - before )) heart-rate values sent after the quiet spell"
fi
# vigil stops while the strap still runs, so its ECG stop command reaches
# it; what the strap sends from here on need not reach vigil (the host's
# checks stop counting at the mark).
sleep 2
echo "=== vigil stopping" >> "$out/peripheral.log"
mark "stopping vigil (SIGTERM) with the strap running"
kill -TERM "$vigil_pid" 2>/dev/null
for i in $(seq 1 40); do kill -0 "$vigil_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$vigil_pid" 2>/dev/null; then
    mark "vigil did not stop within 20 s of SIGTERM; killing it"
    kill -KILL "$vigil_pid"
fi
wait "$vigil_pid"
mark "vigil exit status $?"
stop_peripheral
mark "guest done"
finish
: > "$out/guest-done"
