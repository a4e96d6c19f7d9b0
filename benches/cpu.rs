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

/// A fixed amount of work, timed next to the pipeline's runs, to tell the
/// machine's speed at the moment from the code's: a chain of dependent loads
/// through 128 KB in random order (each a first-level cache miss, as a
/// device's state is at 100 devices) with some arithmetic on each. It is
/// the same instructions on the same addresses every time, so its spread
/// between runs is the machine's alone; with a working set beyond the
/// second-level cache (`REF_SLOTS`) it shows how much the shared
/// third-level cache makes a run's time vary (docs/performance.md,
/// "Where the spread comes from").
pub struct Reference {
    next: Vec<u32>,
    wide: bool,
}

impl Reference {
    /// 64-byte slots: one load per cache line.
    const SLOTS: usize = 2048;
    const STRIDE: usize = 16;
    const STEPS: usize = 200_000;

    /// `REF_SLOTS` slots of 64 bytes if set (a working set beyond the
    /// second-level cache), else 2,048 (128 KB).
    pub fn new() -> Self {
        let slots: usize = std::env::var("REF_SLOTS").ok().and_then(|v| v.parse().ok()).unwrap_or(Self::SLOTS).max(2);
        // A single random cycle through every slot (Sattolo's shuffle with
        // a fixed xorshift, so every run chases the same addresses).
        let mut order: Vec<usize> = (0..slots).collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in (1..slots).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = (x % i as u64) as usize;
            order.swap(i, j);
        }
        let mut next = vec![0u32; slots * Self::STRIDE];
        for w in 0..slots {
            next[order[w] * Self::STRIDE] = (order[(w + 1) % slots] * Self::STRIDE) as u32;
        }
        Self { next, wide: std::env::var("REF_KIND").is_ok_and(|k| k == "wide") }
    }

    /// The calling thread's CPU time for the work once.
    pub fn time(&self) -> Duration {
        let start = thread_cpu().unwrap_or_default();
        std::hint::black_box(self.run());
        thread_cpu().unwrap_or_default().saturating_sub(start)
    }

    /// The work; returns a value that depends on all of it.
    #[inline(never)]
    pub fn run(&self) -> u64 {
        if self.wide {
            return self.run_wide();
        }
        let (mut at, mut h) = (0usize, 0u64);
        for _ in 0..Self::STEPS {
            at = self.next[at] as usize;
            for _ in 0..8 {
                h = (h ^ at as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
            }
        }
        h
    }

    /// Work of the other kind (`REF_KIND=wide`): four independent chains
    /// of arithmetic and loads from a first-level-cache-sized table, with a
    /// branch on random bits in each: many instructions per cycle, some
    /// mispredicted branches, no cache misses.
    fn run_wide(&self) -> u64 {
        // The table: the first 512 slots (32 KB), or all of a smaller one.
        let table = (self.next.len() / Self::STRIDE).min(512);
        let mut h = [1u64, 2, 3, 4];
        for _ in 0..Self::STEPS * 2 {
            for (k, h) in h.iter_mut().enumerate() {
                let t = u64::from(self.next[((*h >> 40) as usize % table) * Self::STRIDE]);
                *h = (*h ^ t).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(23 + k as u32);
                if *h & 1 == 0 {
                    *h = h.wrapping_add(0x632B_E59B_D9B4_E019);
                }
            }
        }
        h.iter().fold(0, |a, b| a ^ b)
    }
}
