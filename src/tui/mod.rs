//! The terminal UI: state, input mapping, drawing. Views draw from state only; no I/O.

pub mod action;
pub mod alerts;
pub mod app;
pub mod browse;
pub mod handoff;
pub mod keymap;
pub mod panels;
pub mod run;
pub mod runbooks;
pub mod table;
pub mod terminal;
pub mod theme;
pub mod views;
pub mod widgets;
