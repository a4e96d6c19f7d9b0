//! Arrow recordings (being written: see issue 5).
