//! The live terminal dashboard (being written: see issue 6).
