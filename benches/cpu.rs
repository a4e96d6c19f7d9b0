//! CPU time of the calling thread, for benches whose budget is "on one
//! core": the figure then means the same on a busy shared machine as on an
//! idle one, and excludes other threads (the recorder's, a stand-in's).

use std::time::Duration;

/// CPU time of the calling thread (Linux: `/proc/thread-self/schedstat`,
/// first field, ns). `None` where unavailable.
///
/// The kernel brings that figure up to date only when the thread is
/// switched or at a scheduler tick, so a plain read lags by up to a tick
/// (4 ms), and the lag is not random: after a stretch of work it counts part
/// of that work to what follows (the pipeline bench read more CPU than wall
/// time). Yielding first makes the scheduler account the running slice.
pub fn thread_cpu() -> Option<Duration> {
    std::thread::yield_now();
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Minor page faults the calling thread has taken (Linux:
/// `/proc/thread-self/stat`, field 10). `None` where unavailable.
pub fn thread_minor_faults() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after it are not.
    let after_name = &text[text.rfind(')')? + 1..];
    after_name.split_whitespace().nth(7)?.parse().ok()
}
