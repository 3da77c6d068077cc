//! Simulated fleet (being written).
