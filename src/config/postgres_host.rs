//! The keys that tie a `[[postgres]]` entry to the machines around it: the `[[host]]` it
//! runs on (for the filesystem under `pg_wal`), where pgBackRest answers for its backups,
//! and the limits those readings are judged by.

use std::time::Duration;

use super::locate::Seg;
use super::rules::{Problem, is_usable_name};
use super::types::{Config, EndpointConfig};

/// Slots retaining this share of the space still free under pg_wal: half of it means the
/// disk fills in about the time the slot has already been behind.
pub const SLOT_WAL_WARN_PCT: f64 = 50.0;
pub const SLOT_WAL_CRIT_PCT: f64 = 80.0;
/// pgBackRest's usual schedule is a weekly full and daily incrementals or diffs; a day of
/// slack on each before it is worth a look.
pub const BACKUP_FULL_MAX_AGE: Duration = Duration::from_secs(8 * 86_400);
pub const BACKUP_MAX_AGE: Duration = Duration::from_secs(2 * 86_400);

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SlotWalLimits {
    pub warn_pct: f64,
    pub crit_pct: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BackupLimits {
    pub full_max_age_s: f64,
    pub any_max_age_s: f64,
}

impl Default for SlotWalLimits {
    fn default() -> Self {
        Self {
            warn_pct: SLOT_WAL_WARN_PCT,
            crit_pct: SLOT_WAL_CRIT_PCT,
        }
    }
}

impl Default for BackupLimits {
    fn default() -> Self {
        Self {
            full_max_age_s: BACKUP_FULL_MAX_AGE.as_secs_f64(),
            any_max_age_s: BACKUP_MAX_AGE.as_secs_f64(),
        }
    }
}

impl EndpointConfig {
    pub fn slot_wal_limits(&self) -> SlotWalLimits {
        SlotWalLimits {
            warn_pct: self.slot_wal_warn_pct.unwrap_or(SLOT_WAL_WARN_PCT),
            crit_pct: self.slot_wal_crit_pct.unwrap_or(SLOT_WAL_CRIT_PCT),
        }
    }

    pub fn backup_limits(&self) -> BackupLimits {
        BackupLimits {
            full_max_age_s: self
                .backup_full_max_age
                .unwrap_or(BACKUP_FULL_MAX_AGE)
                .as_secs_f64(),
            any_max_age_s: self.backup_max_age.unwrap_or(BACKUP_MAX_AGE).as_secs_f64(),
        }
    }

    /// Where `pgbackrest info` runs: `backup_host`, else `host`.
    pub fn backup_host_name(&self) -> Option<&str> {
        self.backup_host.as_deref().or(self.host.as_deref())
    }
}

/// A stanza name as pgBackRest accepts one, and nothing a shell or option parser could
/// read as more than a name: it travels as `--stanza=NAME`.
pub fn is_stanza_name(name: &str) -> bool {
    is_usable_name(name) && !name.starts_with('-')
}

pub(super) fn validate(config: &Config, problems: &mut Vec<Problem>) {
    let hosts: Vec<&str> = config.hosts.iter().map(|h| h.name.as_str()).collect();
    for (i, ep) in config.postgres.iter().enumerate() {
        let at = |k: &str| {
            vec![
                Seg::Key("postgres".into()),
                Seg::Index(i),
                Seg::Key(k.into()),
            ]
        };
        for (key, name) in [("host", &ep.host), ("backup_host", &ep.backup_host)] {
            if let Some(name) = name
                && !hosts.contains(&name.as_str())
            {
                problems.push((
                    at(key),
                    format!(
                        "`{key}` names no [[host]] entry called `{}`",
                        super::quote(name)
                    ),
                    Some(match super::closest(name, hosts.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => "add a [[host]] with that name, reachable over SSH".into(),
                    }),
                ));
            }
        }
        if let Some(stanza) = &ep.stanza {
            if !is_stanza_name(stanza) {
                problems.push((
                    at("stanza"),
                    format!("`{}` is not a pgBackRest stanza name", super::quote(stanza)),
                    Some("use letters, digits, `-`, `_` and `.` (at most 64)".into()),
                ));
            }
            if ep.backup_host_name().is_none() {
                problems.push((
                    at("stanza"),
                    "`stanza` is set but neither `backup_host` nor `host` says where pgbackrest runs".into(),
                    Some("set `backup_host` to the [[host]] that holds the repository".into()),
                ));
            }
        } else if ep.backup_host.is_some() {
            problems.push((
                at("backup_host"),
                "`backup_host` is set without `stanza`".into(),
                Some("set `stanza` to the cluster's pgBackRest stanza".into()),
            ));
        }
        let limits = ep.slot_wal_limits();
        let pct_ok = |v: f64| v.is_finite() && v > 0.0 && v <= 100.0;
        if !pct_ok(limits.warn_pct) || !pct_ok(limits.crit_pct) || limits.warn_pct > limits.crit_pct
        {
            problems.push((
                at("slot_wal_warn_pct"),
                "slot WAL shares must be percentages in (0, 100], warn at most crit".into(),
                Some(format!(
                    "e.g. slot_wal_warn_pct = {SLOT_WAL_WARN_PCT}, slot_wal_crit_pct = {SLOT_WAL_CRIT_PCT}"
                )),
            ));
        }
        for (key, age) in [
            ("backup_full_max_age", ep.backup_full_max_age),
            ("backup_max_age", ep.backup_max_age),
        ] {
            if age.is_some_and(|a| a < Duration::from_secs(3600)) {
                problems.push((
                    at(key),
                    format!("a `{key}` under an hour would warn between any two backups"),
                    Some("use days, e.g. \"8d\" for fulls and \"2d\" for any backup".into()),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanza_names_are_plain_words() {
        assert!(is_stanza_name("main"));
        assert!(is_stanza_name("mastodon-16.prod_1"));
        for bad in ["", "-main", "a b", "x;id", "a\u{1b}[2J", &"s".repeat(65)] {
            assert!(!is_stanza_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_link_to_a_missing_host_and_a_stanza_without_a_host_are_named() {
        let config: Config = toml::from_str(
            "[[host]]\nname = \"db-1\"\naddress = \"10.0.0.1\"\n\
             [[postgres]]\nname = \"a\"\nurl = \"postgres://m@db/x\"\nhost = \"db-2\"\n\
             [[postgres]]\nname = \"b\"\nurl = \"postgres://m@db/x\"\nstanza = \"main\"\n\
             [[postgres]]\nname = \"c\"\nurl = \"postgres://m@db/x\"\nhost = \"db-1\"\nstanza = \"main\"\nslot_wal_warn_pct = 90\nslot_wal_crit_pct = 60\n",
        )
        .expect("parses");
        let mut problems = Vec::new();
        validate(&config, &mut problems);
        let messages: Vec<&str> = problems.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("no [[host]] entry called `db-2`"));
        assert!(messages[1].contains("neither `backup_host` nor `host`"));
        assert!(messages[2].contains("warn at most crit"));
        assert_eq!(config.postgres[2].backup_host_name(), Some("db-1"));
        assert_eq!(
            config.postgres[0].backup_limits(),
            BackupLimits {
                full_max_age_s: 8.0 * 86_400.0,
                any_max_age_s: 2.0 * 86_400.0
            }
        );
    }
}
