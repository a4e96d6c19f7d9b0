//! The signals that end a session.

/// SIGTERM, SIGHUP and SIGINT as one stream.
pub(super) struct Signals {
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    /// Whether the last signal was SIGINT (Ctrl-C), which a dashboard
    /// confirms with the operator instead of ending at once.
    pub(super) last_was_interrupt: bool,
}

impl Signals {
    pub(super) fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            last_was_interrupt: false,
        })
    }

    pub(super) async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => self.last_was_interrupt = false,
            _ = self.hup.recv() => self.last_was_interrupt = false,
            _ = self.int.recv() => self.last_was_interrupt = true,
        }
    }
}
