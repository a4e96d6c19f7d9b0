//! (cli: being written.)
