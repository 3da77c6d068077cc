//! Backup freshness from pgBackRest: `pgbackrest --output=json --stanza=NAME info`, run over
//! SSH on the configured backup host as one fixed argv, parsed here by a pure function.
//!
//! Incident class: backups that silently stopped. A weekly full that has not run for a
//! fortnight, or a stanza in error (repository missing, cluster mismatch) is found out on
//! the day a restore is needed.

use serde::{Deserialize, Serialize};

use crate::config::BackupLimits;
use crate::model::figure::format_value;
use crate::model::{Finding, Unit};
use crate::sanitize::sanitize_truncated;

/// The fixed command. The stanza was checked by `config::is_stanza_name`, and is one
/// argument glued to its option, so it cannot become a second option or shell syntax.
pub fn info_argv(stanza: &str) -> Vec<String> {
    vec![
        "pgbackrest".into(),
        "--output=json".into(),
        format!("--stanza={stanza}"),
        "info".into(),
    ]
}

/// `pgbackrest info --output=json`: an array of stanzas; only what freshness needs.
#[derive(Deserialize)]
struct InfoStanza {
    name: String,
    #[serde(default)]
    status: Option<InfoStatus>,
    #[serde(default)]
    backup: Vec<InfoBackup>,
}

#[derive(Deserialize)]
struct InfoStatus {
    code: i64,
    #[serde(default)]
    message: String,
    #[serde(default)]
    lock: Option<InfoLock>,
}

#[derive(Deserialize)]
struct InfoLock {
    #[serde(default)]
    backup: Option<InfoHeld>,
}

#[derive(Deserialize)]
struct InfoHeld {
    #[serde(default)]
    held: bool,
}

#[derive(Deserialize)]
struct InfoBackup {
    label: String,
    #[serde(rename = "type")]
    kind: String,
    timestamp: InfoTimestamp,
    /// pgBackRest 2.36+: the backup copied a page with a checksum error.
    #[serde(default)]
    error: Option<bool>,
}

#[derive(Deserialize)]
struct InfoTimestamp {
    stop: i64,
}

/// One backup as the console keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupSet {
    pub label: String,
    /// `full`, `diff` or `incr`.
    pub kind: String,
    pub age_s: f64,
    #[serde(default)]
    pub page_errors: bool,
}

/// The stanza's state as pgBackRest reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stanza {
    pub name: String,
    /// 0 is ok; anything else is pgBackRest's error (2: no valid backups, 1: missing stanza
    /// path, 3: missing stanza data, 99: other).
    pub status_code: i64,
    pub status_message: String,
    /// A backup or expire holds the stanza's lock now.
    pub running: bool,
    pub last_full: Option<BackupSet>,
    /// The newest backup of any type.
    pub last_any: Option<BackupSet>,
    pub count: usize,
}

/// What the console knows of the backups: the stanza, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backups {
    /// The `[[host]]` pgbackrest ran on.
    pub host: String,
    pub stanza_name: String,
    pub stanza: Option<Stanza>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub limits: BackupLimits,
}

/// Parses pgbackrest's JSON for `stanza`; `now_s` is the Unix time the ages are from.
pub fn parse_info(json: &str, stanza: &str, now_s: i64) -> Result<Stanza, String> {
    let stanzas: Vec<InfoStanza> = serde_json::from_str(json)
        .map_err(|e| format!("pgbackrest info printed no JSON this console reads ({e})"))?;
    let found = stanzas
        .into_iter()
        .find(|s| s.name == stanza)
        .ok_or_else(|| format!("pgbackrest info does not list the stanza {stanza}"))?;
    let set = |b: &InfoBackup| BackupSet {
        label: b.label.clone(),
        kind: b.kind.clone(),
        age_s: now_s.saturating_sub(b.timestamp.stop).max(0) as f64,
        page_errors: b.error.unwrap_or(false),
    };
    let newest = |full_only: bool| {
        found
            .backup
            .iter()
            .filter(|b| !full_only || b.kind == "full")
            .max_by_key(|b| b.timestamp.stop)
            .map(set)
    };
    let (status_code, status_message, running) = match &found.status {
        Some(s) => (
            s.code,
            s.message.clone(),
            s.lock
                .as_ref()
                .and_then(|l| l.backup.as_ref())
                .is_some_and(|b| b.held),
        ),
        None => (99, "no status in pgbackrest's answer".into(), false),
    };
    Ok(Stanza {
        last_full: newest(true),
        last_any: newest(false),
        count: found.backup.len(),
        name: found.name,
        status_code,
        status_message,
        running,
    })
}

pub fn findings(b: &Backups) -> Vec<Finding> {
    let Some(s) = &b.stanza else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let name = sanitize_truncated(&s.name, 64);
    let age = |v: f64| format_value(v, Unit::Seconds);
    if s.status_code != 0 {
        out.push(Finding::crit(format!(
            "pgBackRest stanza {name} is in error (code {}: {}): there may be no backup to restore from (backups that silently stopped)",
            s.status_code,
            sanitize_truncated(&s.status_message, 160)
        )));
    }
    match &s.last_full {
        Some(full) if full.age_s > b.limits.full_max_age_s => out.push(Finding::warn(format!(
            "the newest full backup of stanza {name} ({}) is {} old, past {}: is the weekly full still scheduled? (backups that silently stopped)",
            sanitize_truncated(&full.label, 64),
            age(full.age_s),
            age(b.limits.full_max_age_s)
        ))),
        None if s.status_code == 0 => out.push(Finding::warn(format!(
            "stanza {name} has no full backup (backups that silently stopped)"
        ))),
        _ => {}
    }
    if let Some(any) = &s.last_any
        && any.age_s > b.limits.any_max_age_s
    {
        out.push(Finding::warn(format!(
            "no backup of stanza {name} for {} (newest {} {}), past {} (backups that silently stopped)",
            age(any.age_s),
            sanitize_truncated(&any.kind, 8),
            sanitize_truncated(&any.label, 64),
            age(b.limits.any_max_age_s)
        )));
    }
    if let Some(bad) = [&s.last_full, &s.last_any]
        .into_iter()
        .flatten()
        .find(|b| b.page_errors)
    {
        out.push(Finding::warn(format!(
            "backup {} of stanza {name} copied pages with checksum errors",
            sanitize_truncated(&bad.label, 64)
        )));
    }
    out
}

/// The detail view's lines.
pub fn pairs(b: &Backups) -> Vec<(&'static str, String)> {
    let host = sanitize_truncated(&b.host, 64);
    let stanza_name = sanitize_truncated(&b.stanza_name, 64);
    let Some(s) = &b.stanza else {
        let why = b.error.as_deref().unwrap_or("not read yet");
        return vec![(
            "pgBackRest",
            format!(
                "stanza {stanza_name} on {host}: {}",
                sanitize_truncated(why, 200)
            ),
        )];
    };
    let line = |set: &Option<BackupSet>| match set {
        Some(set) => format!(
            "{} ({}) · {} ago",
            sanitize_truncated(&set.label, 64),
            sanitize_truncated(&set.kind, 8),
            format_value(set.age_s, Unit::Seconds)
        ),
        None => "none".to_string(),
    };
    vec![
        (
            "pgBackRest",
            format!(
                "stanza {stanza_name} on {host}: {} (code {}){}",
                sanitize_truncated(&s.status_message, 120),
                s.status_code,
                if s.running { " · backup running" } else { "" }
            ),
        ),
        ("last full", line(&s.last_full)),
        ("last backup", line(&s.last_any)),
        ("backups kept", s.count.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    /// The layout of `pgbackrest info --output=json` (2.x): one full and one incremental.
    const INFO: &str = r#"[{"archive":[{"database":{"id":1,"repo-key":1},"id":"16-1","max":"000000010000000000000009","min":"000000010000000000000003"}],
      "backup":[
        {"annotation":null,"archive":{"start":"000000010000000000000003","stop":"000000010000000000000003"},
         "backrest":{"format":5,"version":"2.50"},"database":{"id":1,"repo-key":1},"error":false,
         "info":{"delta":23000000,"repository":{"delta":3000000,"size":3000000},"size":23000000},
         "label":"20261120-010000F","link":null,"lsn":{"start":"0/3000028","stop":"0/3000100"},
         "prior":null,"reference":null,"tablespace":null,
         "timestamp":{"start":1763600400,"stop":1763600460},"type":"full"},
        {"archive":{"start":"000000010000000000000009","stop":"000000010000000000000009"},
         "backrest":{"format":5,"version":"2.50"},"database":{"id":1,"repo-key":1},"error":false,
         "info":{"delta":1000,"repository":{"delta":100,"size":3000000},"size":23000000},
         "label":"20261120-010000F_20261121-010000I","lsn":{"start":"0/9000028","stop":"0/9000100"},
         "prior":"20261120-010000F","reference":["20261120-010000F"],
         "timestamp":{"start":1763686800,"stop":1763686830},"type":"incr"}],
      "cipher":"none","db":[{"id":1,"repo-key":1,"system-id":7300000000000000000,"version":"16"}],
      "name":"main","repo":[{"cipher":"none","key":1,"status":{"code":0,"message":"ok"}}],
      "status":{"code":0,"lock":{"backup":{"held":false}},"message":"ok"}}]"#;

    const DAY: i64 = 86_400;

    fn backups(stanza: Stanza) -> Backups {
        Backups {
            host: "backup-1".into(),
            stanza_name: "main".into(),
            stanza: Some(stanza),
            error: None,
            limits: BackupLimits::default(),
        }
    }

    #[test]
    fn the_documented_layout_gives_the_newest_full_and_newest_backup() {
        let now = 1_763_686_830 + DAY;
        let s = parse_info(INFO, "main", now).expect("parses");
        assert_eq!(s.status_code, 0);
        assert_eq!(s.count, 2);
        let full = s.last_full.clone().expect("a full");
        assert_eq!(full.label, "20261120-010000F");
        assert_eq!(full.age_s, (now - 1_763_600_460) as f64);
        let any = s.last_any.clone().expect("a backup");
        assert_eq!(any.kind, "incr");
        assert_eq!(any.age_s, DAY as f64);
        assert!(findings(&backups(s)).is_empty());
        assert!(
            parse_info(INFO, "other", now)
                .unwrap_err()
                .contains("other")
        );
        assert!(parse_info("ERROR: [055]", "main", now).is_err());
    }

    #[test]
    fn stale_fulls_and_backups_warn_and_a_stanza_in_error_is_critical() {
        let now = 1_763_686_830 + 9 * DAY;
        let f = findings(&backups(parse_info(INFO, "main", now).expect("parses")));
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|f| f.level == Level::Warn));
        assert!(f[0].message.contains("newest full backup of stanza main"));
        assert!(
            f[1].message.starts_with("no backup of stanza main for 9d"),
            "{}",
            f[1].message
        );
        let missing = r#"[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"main","repo":[],
            "status":{"code":2,"lock":{"backup":{"held":true}},"message":"no valid backups"}}]"#;
        let s = parse_info(missing, "main", now).expect("parses");
        assert!(s.running && s.last_any.is_none());
        let f = findings(&backups(s));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].level, Level::Crit);
        assert!(f[0].message.contains("code 2: no valid backups"));
    }

    #[test]
    fn the_stanza_travels_as_one_glued_argument() {
        assert_eq!(
            info_argv("main"),
            ["pgbackrest", "--output=json", "--stanza=main", "info"]
        );
    }
}
