//! The terminal UI: state, input mapping, drawing. Views draw from state only; no I/O.

pub mod alerts;
pub mod app;
pub mod browse;
pub mod command;
pub mod component;
pub mod handoff;
pub mod keymap;
pub mod line_edit;
pub mod logs;
pub mod navigation;
pub mod palette;
pub mod panels;
pub mod prompt;
pub mod room;
pub mod rows;
pub mod run;
pub mod runbooks;
pub mod screens;
pub mod table;
pub mod terminal;
pub mod theme;
pub mod views;
pub mod widgets;
