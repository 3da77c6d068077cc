//! Where runbooks come from: the ones shipped inside the binary, then
//! `$XDG_CONFIG_HOME/mastop/runbooks/*.toml`, then each `[runbooks] dirs` entry. A later
//! runbook with an earlier one's name replaces it; a broken file is reported and skipped,
//! never hiding the others.

use std::path::{Path, PathBuf};

use super::file::parse;
use super::model::Runbook;
use crate::config::{Config, FileError};

/// The runbooks in `runbooks/`, compiled in so a fresh install has them.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "rolling-reload-web.toml",
        include_str!("../../runbooks/rolling-reload-web.toml"),
    ),
    (
        "restart-sidekiq-unit.toml",
        include_str!("../../runbooks/restart-sidekiq-unit.toml"),
    ),
    (
        "reload-edge-nginx.toml",
        include_str!("../../runbooks/reload-edge-nginx.toml"),
    ),
    (
        "cancel-long-queries.toml",
        include_str!("../../runbooks/cancel-long-queries.toml"),
    ),
    (
        "retry-job-class.toml",
        include_str!("../../runbooks/retry-job-class.toml"),
    ),
    (
        "clear-dead-set.toml",
        include_str!("../../runbooks/clear-dead-set.toml"),
    ),
    (
        "media-remove.toml",
        include_str!("../../runbooks/media-remove.toml"),
    ),
    (
        "close-registrations.toml",
        include_str!("../../runbooks/close-registrations.toml"),
    ),
    (
        "reopen-registrations.toml",
        include_str!("../../runbooks/reopen-registrations.toml"),
    ),
    (
        "purge-domain.toml",
        include_str!("../../runbooks/purge-domain.toml"),
    ),
];

#[derive(Clone, Debug, Default)]
pub struct Library {
    /// By name.
    pub runbooks: Vec<Runbook>,
    /// Files that could not be read or parsed.
    pub errors: Vec<FileError>,
}

impl Library {
    pub fn get(&self, name: &str) -> Option<&Runbook> {
        self.runbooks.iter().find(|r| r.name == name)
    }

    fn add(&mut self, runbook: Runbook) {
        match self.runbooks.iter_mut().find(|r| r.name == runbook.name) {
            Some(existing) => *existing = runbook,
            None => self.runbooks.push(runbook),
        }
    }

    fn add_text(&mut self, origin: &str, text: &str) {
        match parse(origin, text) {
            Ok(r) => self.add(r),
            Err(errors) => self.errors.extend(errors),
        }
    }

    /// Reads every `*.toml` in `dir`, in name order. A missing directory is no error.
    pub fn add_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.errors.push(FileError::new(
                    dir.display().to_string(),
                    format!("cannot read the runbook directory: {e}"),
                ));
                return;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        let mut names_here: Vec<String> = Vec::new();
        for path in files {
            let origin = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => match parse(&origin, &text) {
                    Ok(r) if names_here.contains(&r.name) => {
                        self.errors.push(FileError::new(
                            origin,
                            format!("a second runbook called `{}` in {}", r.name, dir.display()),
                        ));
                    }
                    Ok(r) => {
                        names_here.push(r.name.clone());
                        self.add(r);
                    }
                    Err(errors) => self.errors.extend(errors),
                },
                Err(e) => self
                    .errors
                    .push(FileError::new(origin, format!("cannot read: {e}"))),
            }
        }
    }

    pub fn sort(&mut self) {
        self.runbooks.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// The shipped runbooks alone.
pub fn shipped() -> Library {
    let mut library = Library::default();
    for (file, text) in SHIPPED {
        library.add_text(&format!("shipped:{file}"), text);
    }
    library.sort();
    library
}

/// Everything the config says to load, with the user's own directory under
/// `$XDG_CONFIG_HOME/mastop`.
pub fn load_library(cfg: &Config) -> Library {
    load_library_from(cfg, crate::paths::config_dir().as_deref())
}

/// Like [`load_library`], with the config directory given (`None`: no user directory).
pub fn load_library_from(cfg: &Config, config_dir: Option<&Path>) -> Library {
    let mut library = if cfg.runbooks.shipped {
        shipped()
    } else {
        Library::default()
    };
    if let Some(dir) = config_dir {
        library.add_dir(&dir.join("runbooks"));
    }
    for dir in &cfg.runbooks.dirs {
        library.add_dir(dir);
    }
    library.sort();
    library
}
