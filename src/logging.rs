//! Diagnostics go to a file in the state dir, never to the terminal while the TUI is up.
//!
//! One file per UTC day (`mastop.2026-03-26.log`), at most [`KEEP_FILES`] of them: when a
//! day's file is opened (at start, and at the first line after midnight) the oldest beyond
//! the bound are removed, so a console left running for months cannot fill the disk.
//! `mastop.log` links to the file being written.
//!
//! Written here rather than with tracing-appender's rolling appender: that one reports its
//! own failures on stderr (the console's screen), orders files by creation time, and can
//! fail to start when two consoles replace the link at once. Here every failure is quiet
//! (a log must never break the console), files are ordered by the date in their names, and
//! the link is replaced atomically.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Daily files kept, today's included: two weeks of history.
pub const KEEP_FILES: usize = 14;

/// The link that always names the file being written.
pub const LATEST: &str = "mastop.log";

const PREFIX: &str = "mastop.";
const SUFFIX: &str = ".log";

/// Starts file logging at `level` (a tracing filter such as `info` or `mastop=debug`).
/// Returns the guard that flushes on drop and the path of the link to today's file.
pub fn init(level: &str) -> color_eyre::Result<(WorkerGuard, PathBuf)> {
    let dir = crate::paths::state_dir().ok_or_else(|| {
        color_eyre::eyre::eyre!("cannot find a state directory: set HOME or XDG_STATE_HOME")
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        color_eyre::eyre::eyre!("cannot create log directory {}: {e}", dir.display())
    })?;
    let file = DailyLog::new(&dir, KEEP_FILES, SystemTime::now);
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

/// The day's log file, reopened under the next day's name at the first write after
/// midnight UTC.
pub struct DailyLog<C> {
    dir: PathBuf,
    keep: usize,
    clock: C,
    /// The day of the open file, `YYYY-MM-DD`.
    day: String,
    file: Option<File>,
}

impl<C: Fn() -> SystemTime> DailyLog<C> {
    /// Nothing is opened until the first write; `clock` tells the day.
    pub fn new(dir: &Path, keep: usize, clock: C) -> DailyLog<C> {
        DailyLog {
            dir: dir.to_path_buf(),
            keep: keep.max(1),
            clock,
            day: String::new(),
            file: None,
        }
    }

    fn file_for_today(&mut self) -> io::Result<&mut File> {
        let today = day_of((self.clock)());
        if self.file.is_none() || today != self.day {
            keep_unrotated_log(&self.dir);
            let name = format!("{PREFIX}{today}{SUFFIX}");
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(self.dir.join(&name))?;
            link_latest(&self.dir, &name);
            prune(&self.dir, self.keep, &today);
            self.day = today;
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("no log file"))
    }
}

impl<C: Fn() -> SystemTime> Write for DailyLog<C> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file_for_today()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// `YYYY-MM-DD` of `t`, in UTC.
fn day_of(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

/// The day in a daily log file's name, if it is one: `mastop.2026-03-26.log`.
fn dated(name: &str) -> Option<&str> {
    let day = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let b = day.as_bytes();
    let shape = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    shape.then_some(day)
}

/// Removes the oldest daily files beyond `keep`, by the date in their names, never `today`'s
/// (even when a wrong clock once wrote files dated later); anything else in the directory
/// is left alone. Returns how many were removed. Failures are ignored: another console may
/// have removed the same file a moment ago.
pub fn prune(dir: &Path, keep: usize, today: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut days: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((dated(&name)?.to_string(), e.path()))
        })
        .filter(|(day, _)| day != today)
        .collect();
    days.sort();
    let excess = days.len().saturating_sub(keep.saturating_sub(1));
    days.into_iter()
        .take(excess)
        .filter(|(_, path)| std::fs::remove_file(path).is_ok())
        .count()
}

/// Points `mastop.log` at `name`: a new link renamed over the old one, so a reader (or a
/// second console doing the same) never finds it missing.
fn link_latest(dir: &Path, name: &str) {
    let tmp = dir.join(format!(".{LATEST}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(name, &tmp).is_ok()
        && std::fs::rename(&tmp, dir.join(LATEST)).is_err()
    {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Before daily files, `mastop.log` was one ever-growing file. It is renamed to the day it
/// was last written, so the link can take its place and it ages out like any other day; if
/// that day's file exists already, it is left where it is and not linked over.
fn keep_unrotated_log(dir: &Path) {
    let old = dir.join(LATEST);
    let Ok(meta) = std::fs::symlink_metadata(&old) else {
        return;
    };
    if !meta.is_file() {
        return;
    }
    let day = day_of(meta.modified().unwrap_or_else(|_| SystemTime::now()));
    let to = dir.join(format!("{PREFIX}{day}{SUFFIX}"));
    if !to.exists() {
        let _ = std::fs::rename(&old, to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// 2020-02-01T23:59:00Z, and a clock the test moves.
    fn clock() -> (Arc<Mutex<SystemTime>>, impl Fn() -> SystemTime) {
        let now = Arc::new(Mutex::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_580_601_540),
        ));
        let read = Arc::clone(&now);
        (now, move || *read.lock().expect("clock"))
    }

    fn log_link(dir: &Path) -> String {
        std::fs::read_link(dir.join(LATEST))
            .expect("mastop.log is a link")
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn days_roll_over_and_the_oldest_beyond_the_bound_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Twenty old days, and files that are not daily logs.
        let old: Vec<String> = (1..=20)
            .map(|d| format!("mastop.2020-01-{d:02}.log"))
            .collect();
        for name in &old {
            std::fs::write(dir.path().join(name), b"old\n").expect("old log");
        }
        for other in ["notes.txt", "mastop.toml", "other.log", "mastop.x.log"] {
            std::fs::write(dir.path().join(other), b"keep\n").expect("unrelated file");
        }
        let (now, clock) = clock();
        let mut log = DailyLog::new(dir.path(), KEEP_FILES, clock);
        assert_eq!(
            names(dir.path()).len(),
            24,
            "nothing happens before a write"
        );

        log.write_all(b"first day\n").expect("write");
        log.flush().expect("flush");
        let mut want: Vec<String> = old[20 - (KEEP_FILES - 1)..].to_vec();
        want.extend(
            [
                "mastop.2020-02-01.log",
                LATEST,
                "notes.txt",
                "mastop.toml",
                "other.log",
                "mastop.x.log",
            ]
            .map(String::from),
        );
        want.sort();
        assert_eq!(names(dir.path()), want, "today and the 13 newest old days");
        assert_eq!(log_link(dir.path()), "mastop.2020-02-01.log");

        // Past midnight: the next line opens the next day and the oldest day goes.
        *now.lock().expect("clock") += Duration::from_secs(120);
        log.write_all(b"second day\n").expect("write");
        log.flush().expect("flush");
        let days: Vec<String> = names(dir.path())
            .into_iter()
            .filter(|n| dated(n).is_some())
            .collect();
        assert_eq!(days.len(), KEEP_FILES);
        assert_eq!(
            days.first().map(String::as_str),
            Some("mastop.2020-01-09.log")
        );
        assert_eq!(
            days.last().map(String::as_str),
            Some("mastop.2020-02-02.log")
        );
        assert_eq!(log_link(dir.path()), "mastop.2020-02-02.log");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LATEST)).expect("read through the link"),
            "second day\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("mastop.2020-02-01.log")).expect("read"),
            "first day\n"
        );
    }

    #[test]
    fn the_single_log_of_an_older_version_becomes_a_day_and_ages_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(LATEST), b"history\n").expect("old single log");
        let written = day_of(
            std::fs::metadata(dir.path().join(LATEST))
                .and_then(|m| m.modified())
                .expect("mtime"),
        );
        let (_now, clock) = clock();
        let mut log = DailyLog::new(dir.path(), KEEP_FILES, clock);
        log.write_all(b"x\n").expect("write");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(format!("mastop.{written}.log")))
                .expect("kept under its day"),
            "history\n"
        );
        assert_eq!(log_link(dir.path()), "mastop.2020-02-01.log");
    }

    #[test]
    fn today_is_kept_even_behind_files_from_a_wrong_clock() {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in 1..=5 {
            std::fs::write(dir.path().join(format!("mastop.2099-01-0{d}.log")), b"").expect("w");
        }
        std::fs::write(dir.path().join("mastop.2020-02-01.log"), b"").expect("w");
        assert_eq!(prune(dir.path(), 3, "2020-02-01"), 3);
        assert_eq!(
            names(dir.path()),
            [
                "mastop.2020-02-01.log",
                "mastop.2099-01-04.log",
                "mastop.2099-01-05.log"
            ]
        );
    }

    #[test]
    fn only_daily_names_count() {
        assert_eq!(dated("mastop.2026-03-26.log"), Some("2026-03-26"));
        for other in [
            "mastop.log",
            "mastop.2026-3-26.log",
            "mastop.2026-03-26.log.gz",
            "other.2026-03-26.log",
            "mastop.2026x03-26.log",
        ] {
            assert_eq!(dated(other), None, "{other}");
        }
    }
}
