//! WAL retained by replication slots against the filesystem `pg_wal` lives on. Postgres
//! says how much WAL each slot holds (`pg_wal_lsn_diff` on the slots query) and where its
//! data directory is; only the host knows how much room is left there, so the one path
//! is measured with `df` over SSH on the `[[postgres]] host`.
//!
//! Incident (Hachyderm, mastodon-ops.md): WAL filled the database server's root disk. A
//! slot whose consumer is gone keeps every segment since its restart LSN, exactly like a
//! failing archiver does.

use serde::{Deserialize, Serialize};

use super::replication::Slot;
use crate::config::SlotWalLimits;
use crate::model::figure::format_value;
use crate::model::{Finding, Unit};
use crate::sanitize::sanitize_truncated;

/// Where pg_wal is: `pg_monitor` may read `data_directory` (pg_read_all_settings).
pub const WAL_PATH_SQL: &str =
    "/* mastop */ SELECT current_setting('data_directory') || '/pg_wal' AS wal_path";

/// The fixed read: `df` of that one path, in bytes, in the portable format. The path is
/// one argument after `--`, so it is never an option or shell syntax; `timeout` because a
/// hung network mount blocks `df` forever.
pub fn df_argv(wal_path: &str) -> Vec<String> {
    ["timeout", "5", "df", "-P", "-B1", "--", wal_path]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The filesystem under pg_wal, as `df -P -B1` on the host says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalFilesystem {
    pub wal_path: String,
    pub mount: String,
    pub total_bytes: f64,
    /// What an unprivileged writer (Postgres) may still use: `df`'s Available.
    pub free_bytes: f64,
}

/// Parses `df -P -B1 -- PATH`: a header, then one line `device total used avail cap% mount`.
/// The mount point is the rest of the line, so one with spaces stays whole.
pub fn parse_df(wal_path: &str, output: &str) -> Result<WalFilesystem, String> {
    let line = output
        .lines()
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .ok_or("df printed no filesystem line")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 6 {
        return Err(format!(
            "df printed an unexpected line: {}",
            sanitize_truncated(line, 120)
        ));
    }
    let number = |i: usize, what: &str| {
        fields[i]
            .parse::<f64>()
            .map_err(|_| format!("df's {what} is not a number"))
    };
    // The mount point is the rest of the line after the fifth field: it may hold spaces,
    // and its text may also appear earlier (`/` is in `/dev/sda1`).
    let mount_at = field_start(line, 5)
        .map(|start| line[start..].trim_end().to_string())
        .unwrap_or_else(|| fields[5].to_string());
    Ok(WalFilesystem {
        wal_path: wal_path.to_string(),
        mount: mount_at,
        total_bytes: number(1, "size")?,
        free_bytes: number(3, "available space")?,
    })
}

/// Where the `n`th (from 0) whitespace-separated field of `line` starts.
fn field_start(line: &str, n: usize) -> Option<usize> {
    let mut seen = 0;
    let mut in_field = false;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            in_field = false;
        } else if !in_field {
            if seen == n {
                return Some(i);
            }
            seen += 1;
            in_field = true;
        }
    }
    None
}

/// What the console knows of pg_wal's filesystem: the reading, or why there is none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalSpace {
    /// The `[[host]]` measured.
    pub host: String,
    pub filesystem: Option<WalFilesystem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub limits: SlotWalLimits,
}

/// The slot holding the most WAL (all slots retain from their restart LSN to the current
/// one, so the largest is what is on disk) as a share of the free space.
pub fn findings(slots: &[Slot], space: &WalSpace) -> Vec<Finding> {
    let Some(fs) = &space.filesystem else {
        return Vec::new();
    };
    let Some((slot, retained)) = slots
        .iter()
        .filter_map(|s| s.retained_bytes.map(|b| (s, b)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Vec::new();
    };
    if retained <= 0.0 {
        return Vec::new();
    }
    let pct = if fs.free_bytes > 0.0 {
        100.0 * retained / fs.free_bytes
    } else {
        f64::INFINITY
    };
    let limits = space.limits;
    if pct < limits.warn_pct {
        return Vec::new();
    }
    let name = sanitize_truncated(&slot.name, 64);
    let state = if slot.active {
        "replication slot"
    } else {
        "inactive replication slot"
    };
    let share = if pct.is_finite() {
        format!("{pct:.0}% of")
    } else {
        "more than".to_string()
    };
    let text = format!(
        "{state} {name} retains {} of WAL, {share} the {} still free on {} ({}): pg_wal fills its disk if the consumer does not catch up or the slot is not dropped (WAL filled the database disk)",
        format_value(retained, Unit::Bytes),
        format_value(fs.free_bytes, Unit::Bytes),
        sanitize_truncated(&fs.mount, 80),
        sanitize_truncated(&space.host, 64),
    );
    vec![if pct >= limits.crit_pct {
        Finding::crit(text)
    } else {
        Finding::warn(text)
    }]
}

/// The detail view's lines.
pub fn pairs(slots: &[Slot], space: &WalSpace) -> Vec<(&'static str, String)> {
    let host = sanitize_truncated(&space.host, 64);
    let Some(fs) = &space.filesystem else {
        let why = space.error.as_deref().unwrap_or("not read yet");
        return vec![(
            "pg_wal filesystem",
            format!("{host}: {}", sanitize_truncated(why, 200)),
        )];
    };
    let retained = slots
        .iter()
        .filter_map(|s| s.retained_bytes)
        .fold(0.0, f64::max);
    vec![
        (
            "pg_wal filesystem",
            format!(
                "{} on {host} ({})",
                sanitize_truncated(&fs.mount, 80),
                sanitize_truncated(&fs.wal_path, 120)
            ),
        ),
        (
            "free",
            format!(
                "{} of {}",
                format_value(fs.free_bytes, Unit::Bytes),
                format_value(fs.total_bytes, Unit::Bytes)
            ),
        ),
        (
            "kept by slots",
            format!(
                "{} (WARN at {:.0}%, CRIT at {:.0}% of the free space)",
                format_value(retained, Unit::Bytes),
                space.limits.warn_pct,
                space.limits.crit_pct
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

    fn slot(name: &str, active: bool, retained: f64) -> Slot {
        Slot {
            name: name.into(),
            slot_type: "physical".into(),
            database: String::new(),
            active,
            wal_status: Some("extended".into()),
            safe_wal_size: None,
            retained_bytes: Some(retained),
            xmin_age: None,
            catalog_xmin_age: None,
        }
    }

    fn space(free: f64) -> WalSpace {
        WalSpace {
            host: "db-1".into(),
            filesystem: Some(WalFilesystem {
                wal_path: "/var/lib/postgresql/16/main/pg_wal".into(),
                mount: "/".into(),
                total_bytes: 100.0 * GIB,
                free_bytes: free,
            }),
            error: None,
            limits: SlotWalLimits::default(),
        }
    }

    #[test]
    fn df_portable_output_parses_with_a_mount_holding_spaces() {
        let out = "Filesystem     1-blocks        Used   Available Capacity Mounted on\n\
                   /dev/sda1   107374182400 53687091200 42949672960      56% /srv/pg data\n";
        let fs = parse_df("/srv/pg data/pg_wal", out).expect("parses");
        assert_eq!(fs.mount, "/srv/pg data");
        assert_eq!(fs.total_bytes, 107_374_182_400.0);
        assert_eq!(fs.free_bytes, 42_949_672_960.0);
        // The root filesystem: `/` also appears inside the device's name.
        let root = "Filesystem 1-blocks Used Available Capacity Mounted on\n\
                    /dev/vda1 1000 400 600 40% /\n";
        assert_eq!(parse_df("/pg_wal", root).expect("parses").mount, "/");
        assert!(parse_df("x", "Filesystem\n").is_err());
        assert!(parse_df("x", "h\n/dev/x a b c d /\n").is_err());
    }

    #[test]
    fn the_largest_slot_is_weighed_against_the_free_space_and_named() {
        let slots = [
            slot("standby_a", true, 2.0 * GIB),
            slot("gone", false, 12.0 * GIB),
        ];
        assert!(findings(&slots, &space(40.0 * GIB)).is_empty());
        let warn = findings(&slots, &space(20.0 * GIB));
        assert_eq!(warn.len(), 1);
        assert_eq!(warn[0].level, Level::Warn);
        assert!(
            warn[0].message.starts_with(
                "inactive replication slot gone retains 12.0 GiB of WAL, 60% of the 20.0 GiB"
            ),
            "{}",
            warn[0].message
        );
        let crit = findings(&slots, &space(10.0 * GIB));
        assert_eq!(crit[0].level, Level::Crit);
        let full = findings(&slots, &space(0.0));
        assert!(
            full[0].message.contains("more than the 0 B"),
            "{}",
            full[0].message
        );
        let unread = WalSpace {
            filesystem: None,
            error: Some("ssh db-1: refused".into()),
            ..space(1.0)
        };
        assert!(findings(&slots, &unread).is_empty());
        assert!(pairs(&slots, &unread)[0].1.contains("refused"));
    }
}
