//! CPU time of the calling thread, for benches whose budget is "on one
//! core": the figure then means the same on a busy shared machine as on an
//! idle one, and excludes other threads (the recorder's, a stand-in's).

use std::time::Duration;

/// CPU time of the calling thread (Linux: `/proc/thread-self/schedstat`,
/// first field, ns). `None` where unavailable. The kernel brings it up to
/// date only at scheduler ticks and switches, so read it around work of
/// many ticks (a batch of frames, many pipeline runs), never around one
/// short call.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}
