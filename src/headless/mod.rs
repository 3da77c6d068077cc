//! Headless output (being written).
