//! Diagnostics go to a file in the state dir, never to the terminal while the TUI is up.

use std::path::PathBuf;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Starts file logging at `level` (a tracing filter such as `info` or `mastop=debug`).
/// Returns the guard that flushes on drop and the log file's path.
pub fn init(level: &str) -> color_eyre::Result<(WorkerGuard, PathBuf)> {
    let dir = crate::paths::state_dir().ok_or_else(|| {
        color_eyre::eyre::eyre!("cannot find a state directory: set HOME or XDG_STATE_HOME")
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        color_eyre::eyre::eyre!("cannot create log directory {}: {e}", dir.display())
    })?;
    let file = tracing_appender::rolling::never(&dir, "mastop.log");
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_new(level)
        .map_err(|e| color_eyre::eyre::eyre!("`{level}` is not a log level or filter: {e}"))?;
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok();
    Ok((guard, dir.join("mastop.log")))
}
