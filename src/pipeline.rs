//! (pipeline: being written.)
