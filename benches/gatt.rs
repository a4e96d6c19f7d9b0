//! GATT decoding cost per notification: `decode` for one typical payload of
//! each characteristic, and `decode` + `samples` for a heart-rate
//! notification with RR intervals (the pipeline's per-notification work
//! before the ring buffers).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use vigil::gatt::decode;
use vigil::model::{Characteristic, DeviceLabel, Quantity, Sample, SessionTime};

/// (name, characteristic, payload): the spec vectors of `tests/gatt_vectors.rs`.
const PAYLOADS: [(&str, Characteristic, &[u8]); 7] = [
    ("2a37_hr_rr", Characteristic::HeartRateMeasurement, &[0x16, 0x3C, 0x11, 0x04]),
    (
        "2a1c_temp_time_type",
        Characteristic::TemperatureMeasurement,
        &[0x06, 0xB0, 0x0E, 0x00, 0xFE, 0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B, 0x04],
    ),
    ("2a1e_intermediate", Characteristic::IntermediateTemperature, &[0x00, 0x6E, 0x01, 0x00, 0xFF]),
    ("2a6e_env_temp", Characteristic::Temperature, &[0x66, 0x08]),
    (
        "2a35_bp_all_fields",
        Characteristic::BloodPressureMeasurement,
        &[
            0x1E, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00, 0xE8, 0x07, 0x03, 0x01, 0x0A, 0x14, 0x1E, 0x48, 0x00, 0x01, 0x09,
            0x00,
        ],
    ),
    ("2a5f_plx", Characteristic::PlxContinuousMeasurement, &[0x00, 0x61, 0x00, 0x48, 0x00]),
    ("2a19_battery", Characteristic::BatteryLevel, &[0x55]),
];

pub fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("gatt_decode");
    group.throughput(Throughput::Elements(1));
    for (name, characteristic, payload) in PAYLOADS {
        group.bench_function(name, |b| b.iter(|| decode(black_box(characteristic), black_box(payload))));
    }
    group.finish();

    let device: DeviceLabel = DeviceLabel::from("chest");
    let mut out: Vec<Sample> = Vec::with_capacity(64);
    let mut group = c.benchmark_group("gatt_decode_samples");
    group.throughput(Throughput::Elements(1));
    // u8 HR, contact detected, three RR intervals: 4 samples per notification.
    let hr: &[u8] = &[0x16, 0x48, 0x00, 0x04, 0x00, 0x02, 0x00, 0x03];
    group.bench_function("2a37_hr_3rr", |b| {
        b.iter(|| {
            out.clear();
            if let Ok(m) = decode(Characteristic::HeartRateMeasurement, black_box(hr)) {
                m.samples(SessionTime::from_secs(3600), &device, Quantity::AmbientTemperatureC, &mut out);
            }
            black_box(out.len())
        });
    });
    group.finish();
}
