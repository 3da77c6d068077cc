//! Keymaps (being written).
