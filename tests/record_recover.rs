//! `vigil recover` and the readers never throw away intact data: a damaged
//! message costs that message, the rest of the file still reads, and recover
//! replaces a file only with one that holds at least every row the old one
//! gave — at least what a plain arrow-ipc stream read of it gives.

// Helpers outside `#[test]` functions fail loudly too: they are test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod records;

use std::path::PathBuf;
use std::sync::LazyLock;

use records::{flip, plain_stream_rows, rows};
use vigil::record::{FileKind, Recording, read_arrow_file, recover};

/// Rows per batch of the unfinished copies (the live writer's batches are
/// whatever half a second held: a few to a few hundred rows).
const LIVE_BATCH: usize = 100;

/// A recorded simulation, finished by vigil itself.
static FINISHED: LazyLock<(tempfile::TempDir, PathBuf)> = LazyLock::new(|| records::simulated("tachycardia-episode"));

/// The tester's case: one flipped bit at byte 494 of `notifications.arrow`.
/// In a finished file that byte is in the schema message, which the footer
/// repeats; in an unfinished one, in the header of the first batch. Either
/// way every other batch still reads, by the readers and through `recover`,
/// and at least as much as a plain stream read gives (which is nothing).
#[test]
fn a_flip_at_byte_494_of_notifications_costs_at_most_its_batch() {
    let total = rows(&FINISHED.1.join("notifications.arrow"));
    assert!(total > 10 * LIVE_BATCH, "{total} rows");
    for bit in 0..8 {
        // Finished: readers read past the damage; nothing is lost.
        let (_root, dir) = records::copy(&FINISHED.1);
        let path = dir.join("notifications.arrow");
        flip(&path, 494, 1 << bit);
        let plain = plain_stream_rows(&std::fs::read(&path).unwrap(), FileKind::Notifications);
        let read = Recording::open(&dir).unwrap().notifications().unwrap().len();
        assert!(read >= plain, "bit {bit}: read {read} < plain {plain}");
        assert_eq!(read, total, "bit {bit}: the schema's copy in the footer stands in");

        // Unfinished: recover keeps every batch but the damaged one.
        let (_root, dir) = records::unfinished(&FINISHED.1, LIVE_BATCH);
        let path = dir.join("notifications.arrow");
        flip(&path, 494, 1 << bit);
        let damaged = std::fs::read(&path).unwrap();
        let plain = plain_stream_rows(&damaged, FileKind::Notifications);
        let before = rows(&path);
        let report = recover(&dir).unwrap();
        let kept = Recording::open(&dir).unwrap().notifications().unwrap().len();
        assert!(kept >= plain && kept >= before, "bit {bit}: kept {kept}, plain {plain}, read before {before}");
        assert!(kept + LIVE_BATCH >= total, "bit {bit}: kept {kept} of {total}\n{report}");
        if kept < total {
            let text = report.to_string();
            assert!(text.contains("skipped") && text.contains("damaged bytes"), "says what it skipped:\n{text}");
            let kept_original = dir.join("notifications.arrow.damaged");
            assert_eq!(report.kept, std::slice::from_ref(&kept_original));
            assert!(std::fs::read(&kept_original).unwrap() == damaged, "the damaged original is kept as it was");
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&kept_original).unwrap().permissions());
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

/// Flips spread over every unfinished file (the tester's 29 cases per file):
/// each costs at most the batch it lands in, recover keeps at least what a
/// plain stream read and the resynchronising reader find, and the files it
/// writes are whole.
#[test]
fn recover_after_spread_bit_flips_keeps_every_readable_batch() {
    let (_root, clean) = records::unfinished(&FINISHED.1, LIVE_BATCH);
    for kind in FileKind::ALL {
        let len = std::fs::metadata(clean.join(kind.file_name(0))).unwrap().len() as usize;
        let total = rows(&clean.join(kind.file_name(0)));
        for case in 0..29 {
            let at = 8 + (len - 8) * case / 29;
            let (_root, dir) = records::copy(&clean);
            let path = dir.join(kind.file_name(0));
            flip(&path, at, 1 << (case % 8));
            let plain = plain_stream_rows(&std::fs::read(&path).unwrap(), kind);
            let before = rows(&path);
            let report = recover(&dir).unwrap();
            let after = read_arrow_file(&path).unwrap();
            assert!(after.complete, "{kind:?} byte {at}: the recovered file is whole");
            let kept = after.num_rows();
            assert!(kept >= before && kept >= plain, "{kind:?} byte {at}: kept {kept}, read {before}, plain {plain}");
            assert!(kept + LIVE_BATCH >= total, "{kind:?} byte {at}: kept {kept} of {total}\n{report}");
        }
    }
}

/// Damage in the middle of a file: the batches after the damaged one are
/// not lost, and the damage is reported.
#[test]
fn readers_resynchronise_after_a_damaged_batch() {
    let (_root, dir) = records::unfinished(&FINISHED.1, LIVE_BATCH);
    let path = dir.join("samples.arrow");
    let total = rows(&path);
    // Overwrite the continuation marker and length of the third message.
    let bytes = std::fs::read(&path).unwrap();
    let third = records::message_offsets(&bytes)[2];
    let mut damaged = bytes.clone();
    damaged[third..third + 8].fill(0);
    std::fs::write(&path, &damaged).unwrap();
    let file = read_arrow_file(&path).unwrap();
    assert_eq!(file.num_rows(), total - LIVE_BATCH, "only the damaged batch is lost");
    assert_eq!(file.skipped.len(), 1, "{:?}", file.skipped);
    let damage = Recording::open(&dir).unwrap().damage().unwrap();
    assert!(damage.iter().any(|d| d.to_string().contains("skipped")), "{damage:?}");
    assert_eq!(plain_stream_rows(&damaged, FileKind::Samples), LIVE_BATCH, "a plain read stops at the damage");
}

/// A recover that fails (here: no room for the compacted file, as on a
/// full disk) leaves the recording as it was: no temporary file, no lock
/// file, the original files untouched.
#[test]
fn a_failed_recover_leaves_no_tmp_or_lock_file() {
    let (_root, dir) = records::unfinished(&FINISHED.1, LIVE_BATCH);
    let before = records::entries(&dir);
    let bytes: Vec<Vec<u8>> = before.iter().map(|n| std::fs::read(dir.join(n)).unwrap()).collect();
    // `ulimit -f` makes every write past 4 KiB fail (EFBIG), as a full disk
    // fails them; SIGXFSZ is ignored so the write returns the error.
    let out =
        common::vigil_under_sh("trap '' XFSZ; ulimit -f 8", &["recover", dir.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "recover should fail: {stderr}");
    assert!(stderr.contains(".compact.tmp") || stderr.contains("File too large"), "{stderr}");
    assert_eq!(records::entries(&dir), before, "nothing left behind");
    for (name, old) in before.iter().zip(&bytes) {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), old, "{name} untouched");
    }
}

/// What byte 494 was in the tester's file (a compacted file of the layout
/// before identity metadata): the high byte of the null count of the first
/// dictionary's column node. A plain read fails on every batch (no
/// dictionary); vigil's reader takes the count from the validity bitmap and
/// reads every row. Found here by parsing, wherever it lies in today's
/// layout.
#[test]
fn a_flipped_null_count_in_a_dictionary_is_repaired() {
    let path = FINISHED.1.join("notifications.arrow");
    let total = rows(&path);
    let bytes = std::fs::read(&path).unwrap();
    let dictionary = records::message_offsets(&bytes)[1];
    let len = u32::from_le_bytes(bytes[dictionary + 4..dictionary + 8].try_into().unwrap()) as usize;
    let meta = &bytes[dictionary + 8..dictionary + 8 + len];
    let message = arrow_ipc::root_as_message(meta).unwrap();
    let nodes = message.header_as_dictionary_batch().unwrap().data().unwrap().nodes().unwrap();
    let node = dictionary + 8 + (nodes.bytes().as_ptr().addr() - meta.as_ptr().addr());
    for bit in 0..8 {
        let (_root, dir) = records::copy(&FINISHED.1);
        let path = dir.join("notifications.arrow");
        flip(&path, node + 15, 1 << bit); // the null count's high byte
        let damaged = std::fs::read(&path).unwrap();
        // Bit 7 makes the count negative, which arrow-ipc takes as "no nulls".
        let plain = plain_stream_rows(&damaged, FileKind::Notifications);
        assert_eq!(plain, if bit < 7 { 0 } else { total }, "bit {bit}: a plain read");
        let file = read_arrow_file(&path).unwrap();
        assert_eq!((file.num_rows(), file.truncated, file.skipped), (total, None, vec![]), "bit {bit}");
        assert_eq!(Recording::open(&dir).unwrap().notifications().unwrap().len(), total);
    }
}
