//! The alarm engine (being written: see issue 3).
