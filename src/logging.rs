//! Diagnostics go to a file in the state dir, never to the terminal while the TUI is up.
//!
//! One file per day (`mastop.2026-03-26.log`, UTC dates), at most [`KEEP_FILES`] of them:
//! older ones are removed when the console starts and at each day's rollover, so a console
//! left running for months cannot fill the disk. `mastop.log` is a link to today's file.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

/// Daily files kept, today's included: two weeks of history.
pub const KEEP_FILES: usize = 14;

/// The link that always names the file being written.
pub const LATEST: &str = "mastop.log";

/// Starts file logging at `level` (a tracing filter such as `info` or `mastop=debug`).
/// Returns the guard that flushes on drop and the path of the link to today's file.
pub fn init(level: &str) -> color_eyre::Result<(WorkerGuard, PathBuf)> {
    let dir = crate::paths::state_dir().ok_or_else(|| {
        color_eyre::eyre::eyre!("cannot find a state directory: set HOME or XDG_STATE_HOME")
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        color_eyre::eyre::eyre!("cannot create log directory {}: {e}", dir.display())
    })?;
    let file = appender(&dir)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_new(level)
        .map_err(|e| color_eyre::eyre::eyre!("`{level}` is not a log level or filter: {e}"))?;
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok();
    Ok((guard, dir.join(LATEST)))
}

/// The daily, bounded log files in `dir`. Building it removes the oldest files beyond
/// [`KEEP_FILES`] (by creation time, as at every rollover).
pub fn appender(dir: &Path) -> color_eyre::Result<RollingFileAppender> {
    keep_unrotated_log(dir);
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("mastop")
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .latest_symlink(LATEST)
        .build(dir)
        .map_err(|e| color_eyre::eyre::eyre!("cannot open a log file in {}: {e}", dir.display()))
}

/// Before rotation, `mastop.log` was the one ever-growing file. Replacing it with the link
/// would delete it; renamed, it counts as one more old file and is removed in its turn.
fn keep_unrotated_log(dir: &Path) {
    let old = dir.join(LATEST);
    if std::fs::symlink_metadata(&old).is_ok_and(|m| m.is_file()) {
        let _ = std::fs::rename(&old, dir.join("mastop.unrotated.log"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn starting_removes_the_oldest_files_beyond_the_bound_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Twenty days of old logs, oldest created first. Pruning goes by creation time,
        // which the file system stamps with a coarse clock: a pause between files keeps
        // their order unambiguous.
        let old: Vec<String> = (1..=20)
            .map(|d| format!("mastop.2020-01-{d:02}.log"))
            .collect();
        for name in &old {
            std::fs::write(dir.path().join(name), b"old\n").expect("old log");
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        for other in ["notes.txt", "mastop.toml", "other.log"] {
            std::fs::write(dir.path().join(other), b"keep\n").expect("unrelated file");
        }

        let mut log = appender(dir.path()).expect("appender");
        log.write_all(b"today\n").expect("write");
        log.flush().expect("flush");

        let today = std::fs::read_link(dir.path().join(LATEST)).expect("mastop.log links");
        let today = today
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        assert!(
            today.starts_with("mastop.") && today.ends_with(".log") && !old.contains(&today),
            "{today}"
        );
        let mut want: Vec<String> = old[20 - (KEEP_FILES - 1)..].to_vec();
        want.extend([
            today.clone(),
            LATEST.to_string(),
            "notes.txt".into(),
            "mastop.toml".into(),
            "other.log".into(),
        ]);
        want.sort();
        assert_eq!(
            names(dir.path()),
            want,
            "{KEEP_FILES} daily files: the {} newest old ones and today's",
            KEEP_FILES - 1
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LATEST)).expect("read through the link"),
            "today\n"
        );
    }

    #[test]
    fn the_unrotated_log_of_an_older_version_is_kept_not_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(LATEST), b"history\n").expect("old single log");
        let log = appender(dir.path()).expect("appender");
        drop(log);
        assert!(
            std::fs::symlink_metadata(dir.path().join(LATEST))
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("mastop.unrotated.log")).expect("kept"),
            "history\n"
        );
    }
}
