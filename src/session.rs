//! (session: being written.)
