//! `[runbooks]`: where runbook files are found besides the shipped ones.

use std::path::PathBuf;

use serde::Deserialize;

use super::locate::Seg;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunbooksConfig {
    /// Load the runbooks that ship with mastop (on by default).
    #[serde(default = "yes")]
    pub shipped: bool,
    /// Directories of the instance's own runbooks, read after the shipped ones and after
    /// `$XDG_CONFIG_HOME/mastop/runbooks`. A runbook with a shipped runbook's name
    /// replaces it.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
    /// A PEM file with the CA that signed the certificates of the `https://` URLs runbook
    /// steps and health gates ask, trusted instead of the system roots.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
}

impl Default for RunbooksConfig {
    fn default() -> Self {
        Self {
            shipped: true,
            dirs: Vec::new(),
            tls_ca: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// Problems with `[runbooks]` that the file format alone cannot catch.
pub(super) fn validate(config: &RunbooksConfig) -> Vec<(Vec<Seg>, String, Option<String>)> {
    let mut problems = Vec::new();
    for (i, dir) in config.dirs.iter().enumerate() {
        if dir.as_os_str().is_empty() {
            problems.push((
                vec![
                    Seg::Key("runbooks".into()),
                    Seg::Key("dirs".into()),
                    Seg::Index(i),
                ],
                "an empty directory name".into(),
                Some("name a directory, e.g. \"/etc/mastop/runbooks\"".into()),
            ));
        }
    }
    if let Some(ca) = &config.tls_ca
        && ca.as_os_str().is_empty()
    {
        problems.push((
            vec![Seg::Key("runbooks".into()), Seg::Key("tls_ca".into())],
            "an empty file name".into(),
            Some("name a PEM file, e.g. \"/etc/mastop/ca.pem\"".into()),
        ));
    }
    problems
}
