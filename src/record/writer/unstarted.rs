//! A recorder whose recording could not start.
//!
//! A disk that is full, read-only or failing must not stop monitoring: the
//! session starts anyway, with `tech.recording` raised from the first
//! moment, and this recorder counts what it is sent as not recorded.

use std::path::Path;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::Recorder;
use crate::model::{NotRecorded, SessionTime};
use crate::record::{RECORDER_CHANNEL_CAPACITY, RecordError, RecordMsg, RecordOptions, RecorderHealth};

impl Recorder {
    /// [`start_at`](Self::start_at), except that when the disk fails it
    /// (full, read-only, an I/O error) the session still starts, with an
    /// [`unstarted`](Self::unstarted) recorder: monitoring matters more
    /// than its record. Refusals that are the operator's to fix (a locked
    /// recording, a bad participant code, an unreadable `session.json`)
    /// remain errors.
    pub fn start_or_unstarted(
        opts: &RecordOptions,
        start_utc: DateTime<Utc>,
        from: SessionTime,
        config: serde_json::Value,
    ) -> Result<Recorder, RecordError> {
        match Self::start_at(opts, start_utc, from, config) {
            Err(e @ (RecordError::Io { .. } | RecordError::Arrow { .. } | RecordError::Failed(_))) => {
                tracing::error!("cannot record: {e}");
                // Before any screen is up (the recorder starts first).
                eprintln!("vigil: cannot record ({e}); monitoring goes on unrecorded, with tech.recording raised");
                Ok(Self::unstarted(&opts.root, e))
            }
            other => other,
        }
    }

    /// A recorder whose recording could not start: its health is `Failed`
    /// from the first moment (the session raises `tech.recording`), it
    /// counts everything it is sent as not recorded, and
    /// [`finish`](Self::finish) returns `error` as a failed recording.
    #[must_use]
    pub fn unstarted(root: &Path, error: RecordError) -> Recorder {
        let message = error.to_string();
        let (tx, mut rx) = mpsc::channel(RECORDER_CHANNEL_CAPACITY);
        // Made `Ok` and then failed, so the session sees a change at once.
        let (health_tx, health) = watch::channel(RecorderHealth::Ok);
        let failed = move |not_recorded| RecorderHealth::Failed { message: message.clone(), not_recorded };
        health_tx.send_replace(failed(NotRecorded::default()));
        let thread = std::thread::Builder::new()
            .name("vigil-recorder".to_owned())
            .spawn(move || {
                let mut lost = NotRecorded::default();
                while let Some(msg) = rx.blocking_recv() {
                    match msg {
                        RecordMsg::Batch { events, samples, output } => {
                            lost.add(&events, samples.len(), output.len());
                        }
                        RecordMsg::Gathered { batches, samples, output } => {
                            lost.add(batches.iter().flatten(), samples.len(), output.len());
                        }
                        RecordMsg::Reached(_) => continue,
                        RecordMsg::Finish => break,
                    }
                    health_tx.send_replace(failed(lost));
                }
                Err(RecordError::Failed(format!("it never started ({error})")))
            })
            // No thread: the receiver is gone with the closure, so sends
            // fail at once (nothing waits) and `finish` says the thread is lost.
            .ok();
        Recorder { dir: root.to_owned(), tx, health, thread, returns: None, started: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Characteristic, SourceEvent};

    #[test]
    fn counts_what_it_is_sent_and_finishes_as_failed() {
        let err = RecordError::Io { path: "x/lock".into(), source: std::io::Error::other("disk full") };
        let rec = Recorder::unstarted(Path::new("x"), err);
        assert!(!rec.started());
        let mut health = rec.health();
        assert!(health.has_changed().unwrap(), "the session sees the failure at once");
        let ev = |ms| {
            SourceEvent::notification(
                SessionTime::from_millis(ms),
                "chest".into(),
                Characteristic::HeartRateMeasurement,
                &[0x06, 0x3C],
            )
        };
        let batch = RecordMsg::Batch { events: vec![ev(1), ev(2)], samples: vec![], output: vec![] };
        rec.sender().blocking_send(batch).unwrap();
        let gathered = RecordMsg::Gathered { batches: vec![vec![ev(3)]], samples: vec![], output: vec![] };
        rec.sender().blocking_send(gathered).unwrap();
        let result = rec.finish();
        assert!(matches!(&result, Err(RecordError::Failed(m)) if m.contains("disk full")), "{result:?}");
        match &*health.borrow_and_update() {
            RecorderHealth::Failed { not_recorded, .. } => assert_eq!(not_recorded.notifications, 3),
            RecorderHealth::Ok => panic!("not failed"),
        }
    }
}
