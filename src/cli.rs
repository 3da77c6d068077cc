//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mastop",
    version,
    about = "A terminal operations console for a Mastodon instance's infrastructure"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: $XDG_CONFIG_HOME/mastop/config.toml).
    #[arg(long, global = true, env = "MASTOP_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Log level or filter for the log file in $XDG_STATE_HOME/mastop (e.g. info, debug).
    #[arg(
        long,
        global = true,
        env = "MASTOP_LOG",
        value_name = "LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
    /// Theme for this run (overrides the config).
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Keymap for this run: default or vim (overrides the config).
    #[arg(long, global = true, value_name = "NAME")]
    pub keymap: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The live console (what plain `mastop` runs).
    Tui,
    /// The console against a simulated fleet with scripted incidents.
    Demo(DemoArgs),
    /// Poll every configured source once and print the result.
    Snapshot(SnapshotArgs),
    /// One line per component and a Nagios exit code: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.
    Check,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Start this far into the incident script, e.g. 3m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub at: std::time::Duration,
    /// Print one snapshot of the demo fleet instead of opening the console.
    #[arg(long)]
    pub snapshot: bool,
    /// With --snapshot: JSON (the only format for now).
    #[arg(long, requires = "snapshot")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Print JSON (the only format for now; the flag keeps scripts explicit).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config, keymap and theme; exit 2 on any error.
    Check,
    /// Print where mastop looks for its files.
    Paths,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::config::parse_duration(text)
}
