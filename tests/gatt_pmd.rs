//! Polar PMD ECG frames: a million random payloads never panic the
//! decoder, and a million random frames come back equal from encode then
//! decode. Seeded, so a failure names its case and repeats.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vigil::gatt::pmd::{self, EcgFrame};
use vigil::model::Payload;

const CASES: usize = 1_000_000;
const SEED: u64 = 0x00EC_6130;

#[test]
fn a_million_random_payloads_never_panic_and_what_decodes_encodes_back() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut decoded = 0;
    let mut payload = Vec::with_capacity(300);
    for case in 0..CASES {
        payload.clear();
        let len = rng.random_range(0..300);
        payload.extend((0..len).map(|_| rng.random::<u8>()));
        // Half the cases start like a real ECG frame, so the sample path
        // is reached too.
        if case % 2 == 0 && len >= 10 {
            payload[0] = 0;
            payload[9] = 0;
        }
        if let Ok(frame) = pmd::decode_data(&payload) {
            decoded += 1;
            let mut back = Payload::new();
            frame.encode_into(&mut back);
            assert_eq!(back.as_slice(), payload.as_slice(), "case {case}");
        }
        let _ = pmd::decode_control(&payload);
    }
    // About a third of the real-looking half has whole 3-byte samples.
    assert!(decoded > CASES / 8, "only {decoded} of {CASES} decoded");
}

#[test]
fn a_million_random_frames_round_trip() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    for case in 0..CASES {
        let n = rng.random_range(0..80);
        let frame = EcgFrame {
            timestamp_ns: rng.random(),
            samples_uv: (0..n).map(|_| rng.random_range(-(1 << 23)..(1 << 23))).collect(),
        };
        let mut payload = Payload::new();
        frame.encode_into(&mut payload);
        assert_eq!(payload.len(), 10 + 3 * n, "case {case}");
        assert_eq!(pmd::decode_data(&payload).unwrap(), frame, "case {case}");
    }
}
