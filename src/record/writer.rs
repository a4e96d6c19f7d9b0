//! The recorder: a std thread that owns the live files.
//!
//! It buffers rows in Arrow builders and writes a batch to each file (with
//! `FileWriter::write` + `flush`, i.e. handed to the OS) when
//! [`FLUSH_EVERY`] of wall time has passed since the last write, or when
//! [`MAX_PENDING_ROWS`] rows are waiting; it fsyncs every [`SYNC_EVERY`].
//! Wall time is the right clock here: the promise is about what a crash
//! loses, and crashes happen in wall time, whatever the session's clock.

use std::fs::{self, File};
use std::io::BufWriter;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_ipc::writer::FileWriter;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::compact::{compact_file, sync_dir};
use super::lock::LockInfo;
use super::meta::{self, DeviceMeta, Segment, SessionMeta, Software};
use super::schema::{self, EventRows, FileKind, NotificationRows, SampleRows};
use super::{
    DIR_MODE, FILE_MODE, FLUSH_EVERY, MAX_PENDING_ROWS, RECORDER_CHANNEL_CAPACITY, RecordError, RecordMsg,
    RecordOptions, RecorderHealth, SYNC_EVERY, SampleReturns, sample_returns,
};
use crate::model::{EventBody, NotRecorded, OutputEvent, Sample, SessionTime, SourceEvent};

mod unstarted;

/// What a finished segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInfo {
    pub dir: PathBuf,
    pub segment: u32,
    pub notifications: usize,
    pub samples: usize,
    pub events: usize,
    /// Compacted size of this segment's `samples` file.
    pub samples_bytes: u64,
    /// Compacted size of this segment's three files.
    pub bytes: u64,
    /// Size of this segment's `ecg` file (0: no ECG).
    pub ecg_bytes: u64,
}

/// A live recording: a writer thread fed by a bounded channel.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    tx: mpsc::Sender<RecordMsg>,
    health: watch::Receiver<RecorderHealth>,
    thread: Option<JoinHandle<Result<RecordingInfo, RecordError>>>,
    /// Where the writer thread hands back emptied sample buffers, until a
    /// session takes it for its [`super::Outbox`].
    returns: Option<SampleReturns>,
    /// False for an [`unstarted`](Self::unstarted) recorder.
    started: bool,
}

impl Recorder {
    /// Create the session directory (0700; files 0600; lock file) — or, with
    /// `opts.resume`, open that recording, finalise what a crash left
    /// unfinished and add a segment — and start the writer thread.
    ///
    /// `start_utc` is session time zero of this run (`t` = `start_utc` +
    /// session time); `config` goes into `session.json` verbatim.
    pub fn start(
        opts: &RecordOptions,
        start_utc: DateTime<Utc>,
        config: serde_json::Value,
    ) -> Result<Recorder, RecordError> {
        Self::start_at(opts, start_utc, SessionTime::ZERO, config)
    }

    /// [`start`](Self::start) for a run that begins at session time `from`
    /// rather than at zero: a `--resume` that continues the recording's own
    /// timeline passes the recording's `start_utc` and the session time it
    /// picks up at, and the new segment's `start_utc` is `start_utc + from`.
    pub fn start_at(
        opts: &RecordOptions,
        start_utc: DateTime<Utc>,
        from: SessionTime,
        config: serde_json::Value,
    ) -> Result<Recorder, RecordError> {
        // A new recording starts on a whole microsecond, the unit of every
        // `t`, so a session time of whole microseconds reads back exactly
        // (`clock::start_now` gives one; a resumed recording keeps its own).
        let start_utc = if opts.resume.is_none() { whole_us(start_utc) } else { start_utc };
        let start_ns = start_utc
            .timestamp_nanos_opt()
            .ok_or_else(|| RecordError::Other(format!("start time {start_utc} is out of range")))?;
        let segment_start = DateTime::from_timestamp_nanos(schema::t_of(start_ns, from));
        let (dir, lock, meta) = match &opts.resume {
            Some(dir) => resume(dir, opts, segment_start, config)?,
            None => create(opts, start_utc, config)?,
        };
        let segment = meta.segments.last().map_or(0, |s| s.index);
        let fresh = opts.resume.is_none();
        let files = match open_files(&dir, segment, &meta, fresh) {
            Ok(files) => files,
            Err(e) => {
                // A new recording that could not start holds nothing: leave
                // no half-made directory for `recover` or a reader. (A
                // resumed one keeps its earlier segments; its new files are
                // empty and `recover` finalises them.)
                if fresh {
                    drop(lock);
                    let _ = fs::remove_dir_all(&dir);
                }
                return Err(e);
            }
        };

        let (tx, rx) = mpsc::channel(RECORDER_CHANNEL_CAPACITY);
        let (health_tx, health) = watch::channel(RecorderHealth::Ok);
        let mut writer = Writer::new(dir.clone(), meta, segment, start_ns, files, health_tx, Some(lock));
        let (returns_tx, returns) = sample_returns();
        writer.returns = Some(returns_tx);
        let thread = std::thread::Builder::new()
            .name("vigil-recorder".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(|source| RecordError::Io { path: dir.clone(), source })?;
        Ok(Recorder { dir, tx, health, thread: Some(thread), returns: Some(returns), started: true })
    }

    /// The recording directory (for an [`unstarted`](Self::unstarted)
    /// recorder, the directory it was to be made in).
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a recording was started (false for an
    /// [`unstarted`](Self::unstarted) recorder, whatever happened since).
    #[must_use]
    pub fn started(&self) -> bool {
        self.started
    }

    #[must_use]
    pub fn sender(&self) -> mpsc::Sender<RecordMsg> {
        self.tx.clone()
    }

    #[must_use]
    pub fn health(&self) -> watch::Receiver<RecorderHealth> {
        self.health.clone()
    }

    /// The emptied sample buffers of [`RecordMsg::Gathered`] messages, for
    /// [`super::Outbox::with_returns`] (once: `None` after the first call).
    pub fn take_sample_returns(&mut self) -> Option<SampleReturns> {
        self.returns.take()
    }

    /// Send `Finish` and wait for the thread: flush, footers, compaction,
    /// `session.json` with `clean_shutdown`, unlock.
    ///
    /// Blocks (compaction takes a moment): from async code call it inside
    /// `spawn_blocking`.
    pub fn finish(mut self) -> Result<RecordingInfo, RecordError> {
        // `blocking_send` panics inside a runtime, and polling `send` with
        // another executor there can spin on tokio's cooperative budget: a
        // plain thread has no runtime context, so it may simply block.
        let tx = self.tx.clone();
        let _ = std::thread::scope(|s| s.spawn(move || tx.blocking_send(RecordMsg::Finish)).join());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) | None => Err(RecordError::ThreadLost),
        }
    }
}

/// `t` rounded down to a whole microsecond.
fn whole_us(t: DateTime<Utc>) -> DateTime<Utc> {
    let sub_us = t.timestamp_subsec_nanos() % 1000;
    t - chrono::TimeDelta::nanoseconds(i64::from(sub_us))
}

/// The segment's live files and its first `session.json`.
fn open_files(dir: &Path, segment: u32, meta: &SessionMeta, fresh: bool) -> Result<Vec<LiveFile>, RecordError> {
    let mut files = Vec::with_capacity(3);
    for kind in FileKind::ALL {
        files.push(LiveFile::create(&dir.join(kind.file_name(segment)), kind, meta)?);
    }
    // A new recording's directory entries and first `session.json` are
    // fsynced by the recorder thread as it starts: three fsyncs here
    // would delay the session's start.
    if !fresh {
        sync_dir(dir);
    }
    meta.write_with(dir, !fresh)?;
    Ok(files)
}

fn create(
    opts: &RecordOptions,
    start_utc: DateTime<Utc>,
    config: serde_json::Value,
) -> Result<(PathBuf, LockInfo, SessionMeta), RecordError> {
    if let Some(p) = &opts.participant {
        meta::validate_participant(p)?;
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(&opts.root)
        .map_err(|source| RecordError::Io { path: opts.root.clone(), source })?;
    let id = meta::dir_name(start_utc, opts.participant.as_deref());
    let dir = opts.root.join(&id);
    fs::DirBuilder::new()
        .mode(DIR_MODE)
        .create(&dir)
        .map_err(|source| RecordError::Io { path: dir.clone(), source })?;
    let lock = LockInfo::acquire(&dir).inspect_err(|_| {
        // Just made, so it holds nothing but a lock file at most.
        let _ = fs::remove_dir_all(&dir);
    })?;
    let about = &opts.about;
    let meta = SessionMeta {
        format: meta::FORMAT.to_owned(),
        format_version: meta::FORMAT_VERSION,
        id,
        start_utc,
        end_utc: None,
        participant: opts.participant.clone(),
        protocol: about.protocol.clone(),
        visit: about.visit.clone(),
        notes: about.notes.clone(),
        scenario: about.scenario.as_ref().map(|(name, _)| name.clone()),
        seed: about.scenario.as_ref().map(|(_, seed)| *seed),
        software: Software::this(),
        devices: about
            .profiles
            .iter()
            .map(|(label, profile)| {
                (label.clone(), DeviceMeta { profile: Some(profile.clone()), ..DeviceMeta::default() })
            })
            .collect(),
        config: config.clone(),
        segments: vec![Segment { index: 0, start_utc, end_utc: None, clean_shutdown: false, recovered: false, config }],
        clean_shutdown: false,
    };
    Ok((dir, lock, meta))
}

fn resume(
    dir: &Path,
    opts: &RecordOptions,
    start_utc: DateTime<Utc>,
    config: serde_json::Value,
) -> Result<(PathBuf, LockInfo, SessionMeta), RecordError> {
    // Is it a recording at all? (A clearer error than the lock file's.)
    SessionMeta::read(dir)?;
    let lock = LockInfo::acquire(dir)?;
    let mut meta = SessionMeta::read(dir)?;
    if let Some(p) = &opts.participant
        && meta.participant.as_deref() != Some(p.as_str())
    {
        return Err(RecordError::Other(format!(
            "{}: recorded for participant {}, not {p}",
            dir.display(),
            meta.participant.as_deref().unwrap_or("anon")
        )));
    }
    about_resumed(dir, &mut meta, &opts.about)?;
    let finalised = super::recover::finalise(dir, &mut meta)?;
    if let Some(missing) = finalised.missing.first() {
        return Err(RecordError::Other(format!(
            "{}: missing (session.json lists it); a recording with a file gone is not continued",
            missing.display()
        )));
    }
    // The new segment's files are written in this version's schemas.
    meta.format_version = meta.format_version.max(meta::FORMAT_VERSION);
    let index = meta.segments.last().map_or(0, |s| s.index + 1);
    meta.segments.push(Segment { index, start_utc, end_utc: None, clean_shutdown: false, recovered: false, config });
    meta.clean_shutdown = false;
    Ok((dir.to_owned(), lock, meta))
}

/// What a resumed session says of itself, added to the recording's:
/// protocol and visit where it had none (a different one is refused: a
/// recording is one visit), notes appended, declared profiles where a
/// device has none. The scenario and seed stay the first segment's.
fn about_resumed(dir: &Path, meta: &mut SessionMeta, about: &super::SessionAbout) -> Result<(), RecordError> {
    for (flag, given, recorded) in
        [("--protocol", &about.protocol, &mut meta.protocol), ("--visit", &about.visit, &mut meta.visit)]
    {
        match (given, recorded.as_ref()) {
            (Some(g), Some(r)) if g != r => {
                return Err(RecordError::Other(format!("{}: recorded with {flag} {r}, not {g}", dir.display())));
            }
            (Some(g), None) => *recorded = Some(g.clone()),
            _ => {}
        }
    }
    meta.notes.extend(about.notes.iter().cloned());
    for (label, profile) in &about.profiles {
        meta.devices.entry(label.clone()).or_default().profile.get_or_insert_with(|| profile.clone());
    }
    Ok(())
}

/// One live Arrow file. `writer` is `None` once the file has failed.
struct LiveFile {
    path: PathBuf,
    kind: FileKind,
    writer: Option<FileWriter<BufWriter<File>>>,
    rows: usize,
}

impl LiveFile {
    fn create(path: &Path, kind: FileKind, meta: &SessionMeta) -> Result<LiveFile, RecordError> {
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
            .map_err(|source| RecordError::Io { path: path.to_owned(), source })?;
        let mut f = Self::on(file, path, kind, meta)?;
        // The header reaches the file at once, so even a recorder killed
        // before its first batch leaves a readable (empty) file.
        if let Some(w) = f.writer.as_mut() {
            w.flush().map_err(|e| RecordError::Arrow { file: path.to_owned(), message: e.to_string() })?;
        }
        Ok(f)
    }

    /// The schema carries the recording's identity (see
    /// [`SessionMeta::schema_metadata`]); the batches are built without it,
    /// which the IPC writer does not mind: it writes the schema once.
    fn on(file: File, path: &Path, kind: FileKind, meta: &SessionMeta) -> Result<LiveFile, RecordError> {
        let schema = kind.schema().as_ref().clone().with_metadata(meta.schema_metadata(kind));
        let writer = FileWriter::try_new_with_options(BufWriter::new(file), &schema, schema::write_options())
            .map_err(|e| RecordError::Arrow { file: path.to_owned(), message: e.to_string() })?;
        Ok(LiveFile { path: path.to_owned(), kind, writer: Some(writer), rows: 0 })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        w.write(batch).and_then(|()| w.flush()).map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.rows += batch.num_rows();
        Ok(())
    }

    fn sync(&mut self) -> Result<(), String> {
        let Some(w) = self.writer.as_mut() else { return Ok(()) };
        w.get_ref().get_ref().sync_data().map_err(|e| format!("{}: {e}", self.path.display()))
    }

    /// Footer and flush, without fsync: compaction fsyncs the file that
    /// replaces this one, and [`sync_path`] covers a failed compaction. (Three
    /// fsyncs of files about to be replaced took up to 0.2 s on a busy disk.)
    fn finish(&mut self) -> Result<(), String> {
        let Some(mut w) = self.writer.take() else { return Ok(()) };
        let err = |e: &dyn std::fmt::Display| format!("{}: {e}", self.path.display());
        w.finish().map_err(|e| err(&e))?;
        w.into_inner().map_err(|e| err(&e))?.into_inner().map_err(|e| err(&e.into_error()))?;
        Ok(())
    }
}

fn sync_path(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

struct Writer {
    dir: PathBuf,
    meta: SessionMeta,
    segment: u32,
    start_ns: i64,
    files: Vec<LiveFile>,
    notifications: NotificationRows,
    samples: SampleRows,
    events: EventRows,
    pending: usize,
    meta_dirty: bool,
    /// Latest session time seen: the segment's end.
    last_at: Option<SessionTime>,
    last_flush: Instant,
    last_sync: Instant,
    unsynced: bool,
    failed: Option<String>,
    /// Rows not written since the recording failed (reported with health).
    lost: NotRecorded,
    health: watch::Sender<RecorderHealth>,
    lock: Option<LockInfo>,
    /// Gathered messages' sample buffers go back through this, emptied.
    returns: Option<std::sync::mpsc::SyncSender<Vec<Sample>>>,
    /// A PMD data notification was recorded: derive the `ecg` file.
    ecg: bool,
}

impl Writer {
    fn new(
        dir: PathBuf,
        meta: SessionMeta,
        segment: u32,
        start_ns: i64,
        files: Vec<LiveFile>,
        health: watch::Sender<RecorderHealth>,
        lock: Option<LockInfo>,
    ) -> Self {
        let now = Instant::now();
        Writer {
            dir,
            meta,
            segment,
            start_ns,
            files,
            notifications: NotificationRows::default(),
            samples: SampleRows::default(),
            events: EventRows::default(),
            pending: 0,
            meta_dirty: false,
            last_at: None,
            last_flush: now,
            last_sync: now,
            unsynced: false,
            failed: None,
            lost: NotRecorded::default(),
            health,
            lock,
            returns: None,
            ecg: false,
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<RecordMsg>) -> Result<RecordingInfo, RecordError> {
        // Make the new files and `session.json` durable (see `Recorder::start`).
        // Best effort, as `sync_dir`: a failing disk shows in the writes.
        sync_dir(&self.dir);
        if let Err(e) = sync_path(&self.dir.join(super::META_FILE)) {
            tracing::warn!("{}: fsync failed: {e}", self.dir.join(super::META_FILE).display());
        }
        // A current-thread runtime only to wait with a timeout: rows must
        // reach the OS within a second even when no further message comes.
        // One `block_on` for the whole loop, and every message already
        // queued is taken without waiting: entering the runtime and parking
        // per message cost more than the rows themselves at `--speed max`.
        match tokio::runtime::Builder::new_current_thread().enable_time().build() {
            Ok(rt) => rt.block_on(async {
                loop {
                    let msg = match self.deadline() {
                        Some(wait) => match tokio::time::timeout(wait, rx.recv()).await {
                            Ok(msg) => msg,
                            Err(_elapsed) => {
                                self.tick();
                                continue;
                            }
                        },
                        None => rx.recv().await,
                    };
                    if !self.handle(msg) {
                        break;
                    }
                    while let Ok(msg) = rx.try_recv() {
                        if !self.handle(Some(msg)) {
                            return;
                        }
                    }
                }
            }),
            Err(e) => {
                self.fail(format!("cannot start the recorder's timer: {e}"));
                while self.handle(rx.blocking_recv()) {}
            }
        }
        self.finish()
    }

    /// Take one message; false when the recording is to be finished.
    fn handle(&mut self, msg: Option<RecordMsg>) -> bool {
        match msg {
            Some(RecordMsg::Batch { events, samples, output }) => {
                self.take(&events, &samples, &output);
                self.tick_if_due();
                true
            }
            Some(RecordMsg::Gathered { batches, mut samples, output }) => {
                self.take(batches.iter().flatten(), &samples, &output);
                if let Some(returns) = &self.returns {
                    samples.clear();
                    // Full: the outbox has spares enough; this one is freed.
                    let _ = returns.try_send(samples);
                }
                self.tick_if_due();
                true
            }
            Some(RecordMsg::Reached(at)) => {
                self.last_at = self.last_at.max(Some(at));
                true
            }
            // A closed channel means the pipeline is gone: finish what we
            // have rather than leave an unfinished recording.
            Some(RecordMsg::Finish) | None => false,
        }
    }

    /// How long to wait for the next message before flushing or syncing.
    fn deadline(&self) -> Option<Duration> {
        let flush =
            (self.pending > 0 || self.meta_dirty).then(|| FLUSH_EVERY.saturating_sub(self.last_flush.elapsed()));
        let sync = self.unsynced.then(|| SYNC_EVERY.saturating_sub(self.last_sync.elapsed()));
        match (flush, sync) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Write out what is pending once there is enough of it or it has
    /// waited long enough.
    fn tick_if_due(&mut self) {
        if self.pending >= MAX_PENDING_ROWS || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.tick();
        }
    }

    fn take<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a SourceEvent>,
        samples: &[Sample],
        output: &[OutputEvent],
    ) {
        for e in events {
            self.last_at = self.last_at.max(Some(e.at));
            let label = e.device.as_deref().unwrap_or("unknown");
            match &e.body {
                EventBody::Notification { characteristic, payload } => {
                    self.ecg |= *characteristic == crate::gatt::pmd::DATA_CHARACTERISTIC;
                    if self.failed.is_none() {
                        self.notifications.push(schema::t_of(self.start_ns, e.at), label, *characteristic, payload);
                    } else {
                        self.lost.notifications += 1;
                    }
                }
                EventBody::Connected { name, address, services } => {
                    let d = self.meta.devices.entry(label.to_owned()).or_default();
                    let new = DeviceMeta {
                        name: name.clone().or(d.name.clone()),
                        address: address.clone().or(d.address.clone()),
                        // As the pipeline adopts it (declared ones are kept).
                        profile: d
                            .profile
                            .clone()
                            .or_else(|| crate::devices::match_connected(name.as_deref(), services).map(|p| p.id)),
                        ..d.clone()
                    };
                    if *d != new {
                        *d = new;
                        self.meta_dirty = true;
                    }
                }
                EventBody::DeviceInfo(info) => {
                    let d = self.meta.devices.entry(label.to_owned()).or_default();
                    let new = DeviceMeta {
                        info: crate::model::DeviceInfo {
                            manufacturer: info.manufacturer.clone().or(d.info.manufacturer.clone()),
                            model: info.model.clone().or(d.info.model.clone()),
                            firmware: info.firmware.clone().or(d.info.firmware.clone()),
                        },
                        ..d.clone()
                    };
                    if *d != new {
                        *d = new;
                        self.meta_dirty = true;
                    }
                }
                _ => {}
            }
        }
        if self.failed.is_some() {
            self.lost.add([], samples.len(), output.len());
            self.report();
            return;
        }
        for s in samples {
            self.last_at = self.last_at.max(Some(s.at));
            self.samples.push(self.start_ns, s);
        }
        for o in output {
            self.last_at = self.last_at.max(Some(o.at()));
            self.events.push(self.start_ns, o);
        }
        self.pending = self.notifications.len() + self.samples.len() + self.events.len();
    }

    /// Write what is pending, and fsync when due.
    fn tick(&mut self) {
        if let Err(e) = self.write_pending() {
            self.fail(e);
        }
        if self.meta_dirty && self.failed.is_none() {
            self.meta_dirty = false;
            if let Err(e) = self.meta.write(&self.dir) {
                self.fail(e.to_string());
            }
        }
        self.last_flush = Instant::now();
        if self.unsynced && self.last_sync.elapsed() >= SYNC_EVERY {
            for f in &mut self.files {
                if let Err(e) = f.sync() {
                    self.fail(e);
                    break;
                }
            }
            self.unsynced = false;
            self.last_sync = Instant::now();
        }
    }

    fn write_pending(&mut self) -> Result<(), String> {
        if self.pending == 0 || self.failed.is_some() {
            return Ok(());
        }
        self.pending = 0;
        self.unsynced = true;
        let arrow = |e: arrow_schema::ArrowError| e.to_string();
        for (i, kind) in FileKind::ALL.into_iter().enumerate() {
            let batch = match kind {
                FileKind::Notifications if !self.notifications.is_empty() => {
                    self.notifications.finish().map_err(arrow)?
                }
                FileKind::Samples if !self.samples.is_empty() => self.samples.finish().map_err(arrow)?,
                FileKind::Events if !self.events.is_empty() => self.events.finish().map_err(arrow)?,
                _ => continue,
            };
            debug_assert_eq!(self.files[i].kind, kind);
            if let Err(e) = self.files[i].write(&batch) {
                // Taken out of the builders: `fail` cannot count these.
                let rows = batch.num_rows() as u64;
                match kind {
                    FileKind::Notifications => self.lost.notifications += rows,
                    FileKind::Samples => self.lost.samples += rows,
                    FileKind::Events => self.lost.events += rows,
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Stop writing for good and say so; the thread keeps draining.
    fn fail(&mut self, message: String) {
        if self.failed.is_none() {
            tracing::error!(dir = %self.dir.display(), "recording failed: {message}");
            self.failed = Some(message);
        }
        for f in &mut self.files {
            f.writer = None;
        }
        // What was waiting to be written never will be.
        self.lost.notifications += self.notifications.len() as u64;
        self.lost.samples += self.samples.len() as u64;
        self.lost.events += self.events.len() as u64;
        self.notifications = NotificationRows::default();
        self.samples = SampleRows::default();
        self.events = EventRows::default();
        self.pending = 0;
        self.report();
    }

    /// Publish the failure and what it has cost so far.
    fn report(&self) {
        if let Some(message) = &self.failed {
            self.health.send_replace(RecorderHealth::Failed { message: message.clone(), not_recorded: self.lost });
        }
    }

    fn finish(mut self) -> Result<RecordingInfo, RecordError> {
        self.tick();
        let mut result = Ok(());
        if let Some(message) = self.failed.clone() {
            result = Err(RecordError::Failed(message));
        } else {
            for f in &mut self.files {
                if let Err(e) = f.finish() {
                    result = Err(RecordError::Failed(e));
                    break;
                }
            }
        }
        let mut info = RecordingInfo {
            dir: self.dir.clone(),
            segment: self.segment,
            notifications: self.files[0].rows,
            samples: self.files[1].rows,
            events: self.files[2].rows,
            samples_bytes: 0,
            bytes: 0,
            ecg_bytes: 0,
        };
        if result.is_ok() {
            // Samples (the highest level, the longest) compact on this
            // thread while one helper thread does the other two: one spawn,
            // as starting a thread costs milliseconds on a busy machine.
            let compact = |f: &LiveFile| compact_file(&f.path, &f.path, f.kind);
            let (samples, others): (Vec<&LiveFile>, Vec<&LiveFile>) =
                self.files.iter().partition(|f| f.kind == FileKind::Samples);
            let (mut results, other_results) = std::thread::scope(|scope| {
                let helper = scope.spawn(|| {
                    let done = others.iter().map(|f| (*f, compact(f))).collect::<Vec<_>>();
                    // From the notifications as compacted (or as written, if
                    // that failed); without it readers use them directly.
                    let ecg = others.iter().filter(|f| self.ecg && f.kind == FileKind::Notifications);
                    let ecg_bytes = ecg.map(|f| super::ecg::derive_beside(&f.path)).find_map(|r| {
                        r.inspect_err(|e| tracing::warn!("ecg.arrow not written: {e}")).ok().flatten().map(|s| s.bytes)
                    });
                    (done, ecg_bytes)
                });
                let mine: Vec<_> = samples.iter().map(|f| (*f, compact(f))).collect();
                let (theirs, ecg_bytes) = helper
                    .join()
                    .unwrap_or_else(|_| (others.iter().map(|f| (*f, Err(RecordError::ThreadLost))).collect(), None));
                info.ecg_bytes = ecg_bytes.unwrap_or(0);
                (mine, theirs)
            });
            results.extend(other_results);
            for (f, result) in results {
                match result {
                    Ok(stats) => {
                        info.bytes += stats.bytes;
                        if f.kind == FileKind::Samples {
                            info.samples_bytes = stats.bytes;
                        }
                    }
                    Err(e) => {
                        // The uncompacted file is complete and stays: make it
                        // durable, as `LiveFile::finish` left that to compaction.
                        tracing::warn!("compaction of {} failed: {e}", f.path.display());
                        if let Err(e) = sync_path(&f.path) {
                            tracing::error!("{}: fsync failed: {e}", f.path.display());
                        }
                    }
                }
            }
        }
        // `t` of the last instant: session times count from `start_ns`,
        // whichever session time this segment began at.
        let seg_start = self.meta.segments.last().map_or(self.meta.start_utc, |s| s.start_utc);
        let end = DateTime::from_timestamp_nanos(schema::t_of(self.start_ns, self.last_at.unwrap_or_default()))
            .max(seg_start);
        let clean = result.is_ok();
        if let Some(seg) = self.meta.segments.last_mut() {
            seg.end_utc = Some(end);
            seg.clean_shutdown = clean;
        }
        self.meta.end_utc = Some(self.meta.end_utc.map_or(end, |e| e.max(end)));
        self.meta.clean_shutdown = clean;
        let meta_result = self.meta.write(&self.dir);
        // Unlock even after a failure, so `vigil recover` can finalise what
        // was written.
        let lock_result = self.lock.take().map_or(Ok(()), LockInfo::release);
        result?;
        meta_result?;
        lock_result?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests;
