//! Device profiles (being written: see issue 4).
