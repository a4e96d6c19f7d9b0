//! (headless: being written.)
