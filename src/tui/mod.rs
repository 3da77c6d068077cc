//! The terminal UI: state, input mapping, drawing. Views draw from state only; no I/O.

pub mod action;
pub mod keymap;
pub mod theme;
pub mod app;
pub mod table;
pub mod views;
pub mod widgets;
pub mod run;
pub mod terminal;
