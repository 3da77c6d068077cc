//! mastop: a terminal operations console for a Mastodon instance's infrastructure.
//!
//! Data flows one way: `sources` poll backends into typed readings, `model` turns them into
//! fleet state with health levels, and `tui` / `headless` draw that state. Input flows one
//! way too: key → keymap → command → state change.

pub mod actions;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
pub mod engine;
pub mod handoff;
pub mod headless;
pub mod inventory;
pub mod live;
pub mod logging;
pub mod logs;
pub mod model;
pub mod net;
pub mod output;
pub mod paths;
pub mod runbooks;
pub mod sanitize;
pub mod sources;
pub mod store;
pub mod tui;

/// When the process started, for measuring time to first frame. Set first thing in `main`.
pub static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
