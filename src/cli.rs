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
    /// Run as shadow (read-only) whatever the config says. Nothing raises a session to
    /// on-call except `role = "oncall"` in the config file.
    #[arg(long, global = true)]
    pub readonly: bool,
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
    /// Poll production and publish every component, redacted, to the ops store for
    /// watching consoles; runs until stopped, logs to stderr, SIGHUP reloads the config.
    Collect,
    /// Watch the fleet the collector publishes in the ops store: the full console on a
    /// terminal, `check`'s lines on every change when piped; never connects to production.
    Watch,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Discover the fleet once (config, Tailscale, Ansible) and print the merged host list.
    Inventory(InventoryArgs),
    /// List, preview or run a guarded action (the same pipeline as the console).
    #[command(subcommand)]
    Action(ActionCommand),
    /// Approve another console's critical action (four-eyes).
    Approve {
        /// The approval id the requesting console shows.
        id: String,
    },
    /// List critical actions waiting for approval.
    Approvals,
    /// Stop all actions on every console, for maintenance or a handoff.
    Freeze {
        /// Why; every console shows it.
        #[arg(long)]
        reason: String,
    },
    /// Lift the freeze.
    Unfreeze,
    /// Read the audit history.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Follow-the-sun handoffs: write, show and acknowledge reports; open items,
    /// mitigations and silenced alerts.
    #[command(subcommand)]
    Handoff(crate::commands::handoff::HandoffCommand),
    /// Add a timestamped note to the shift log.
    Note {
        /// The note.
        text: String,
    },
    /// List, read, preview and run runbooks.
    #[command(subcommand)]
    Runbook(RunbookCommand),
    /// A unit's log on a host (or `role:NAME`), redacted: exit 1 when a host could not be
    /// read, 2 on a bad host, unit or window.
    Logs(LogsArgs),
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// A `[[host]]` name, or `role:NAME` for every host with that role.
    pub host: String,
    /// A systemd unit, or a glob of them (`mastodon-sidekiq*`).
    pub unit: String,
    /// `tail`, or how far back: `1m`, `5m`, `15m`, `1h`…
    #[arg(long, default_value = "15m")]
    pub since: String,
    /// At most this many lines per host.
    #[arg(long, default_value_t = 500)]
    pub lines: usize,
    /// Read from this `[[loki]]` entry instead of the hosts' journals.
    #[arg(long)]
    pub loki: Option<String>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RunbookCommand {
    /// Every runbook mastop knows, and any file that failed to load.
    List {
        /// Include where each runbook came from.
        #[arg(long)]
        verbose: bool,
    },
    /// A runbook's description, parameters, steps and rollback notes; with the parameters
    /// it needs, also every operation it would run, fully expanded.
    Show {
        name: String,
        /// A parameter value, `NAME=VALUE` (repeat for several).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Expand against the demo's simulated fleet.
        #[arg(long)]
        demo: bool,
    },
    /// Run a runbook step by step through the guarded pipeline (on-call only). Ctrl-C
    /// stops before the next step.
    Run {
        name: String,
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Run each step's dry-run form (read-only steps as written), skip the rest.
        #[arg(long)]
        dry_run: bool,
        /// Skip the typed confirmation: only for low-risk runbooks and dry runs.
        #[arg(long)]
        yes: bool,
        /// Run against the demo's simulated fleet.
        #[arg(long)]
        demo: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The latest records, oldest first.
    Tail {
        /// Only records newer than this, e.g. 1h or 30m.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        since: Option<std::time::Duration>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Debug, Args)]
pub struct ActionTarget {
    /// The action kind, e.g. demo.restart_unit (see `mastop action list`).
    pub kind: String,
    /// The component, e.g. host/web-1.
    #[arg(long)]
    pub component: String,
    /// The object inside the component, when the component offers the kind on several.
    #[arg(long)]
    pub object: Option<String>,
    /// Act on the demo's simulated fleet.
    #[arg(long)]
    pub demo: bool,
    /// For actions on one row of a component's table: the table's title…
    #[arg(long, requires = "row")]
    pub table: Option<String>,
    /// …and the row's key (a queue name, a job's score-jid, a backend's pid:start).
    #[arg(long, requires = "table")]
    pub row: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// The actions each component offers.
    List {
        /// Only this component.
        #[arg(long)]
        component: Option<String>,
        /// The demo's simulated fleet.
        #[arg(long)]
        demo: bool,
    },
    /// Run every guard and print the exact operations, without executing.
    Preview(ActionTarget),
    /// Run the action through the guarded pipeline.
    Run {
        #[command(flatten)]
        target: ActionTarget,
        /// Confirm a low-risk action.
        #[arg(long)]
        yes: bool,
        /// Confirm a high or critical action by typing the target's name.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
        /// Run a critical action another console has approved.
        #[arg(long, value_name = "ID")]
        approval: Option<String>,
        /// For a critical action: file the approval request and wait this long for it.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        wait_approval: Option<std::time::Duration>,
    },
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
    /// Training drill: one incident to resolve with a shipped runbook, then hand over.
    #[arg(long, conflicts_with_all = ["at", "snapshot"])]
    pub drill: bool,
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
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
