//! `[handoff]`: follow-the-sun shift handoffs.
//!
//! ```toml
//! [handoff]
//! zone = "Europe/Berlin"     # this engineer's IANA time zone
//! shift = "8h"               # the window a report covers when no earlier handoff bounds it
//! snapshot_deadline = "10s"  # how long `handoff write` waits for the fleet snapshot
//!
//! [handoff.people]           # whom a handoff may go to, and where they are
//! alex = "America/New_York"
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::locate::Seg;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffConfig {
    /// The IANA zone of the engineer at this console; UTC when unset.
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default = "default_shift", deserialize_with = "de_duration")]
    pub shift: Duration,
    #[serde(
        default = "default_snapshot_deadline",
        deserialize_with = "de_duration"
    )]
    pub snapshot_deadline: Duration,
    /// Name → IANA zone of the engineers a handoff can go to.
    #[serde(default)]
    pub people: BTreeMap<String, String>,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        HandoffConfig {
            zone: None,
            shift: default_shift(),
            snapshot_deadline: default_snapshot_deadline(),
            people: BTreeMap::new(),
        }
    }
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    super::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn default_shift() -> Duration {
    Duration::from_secs(8 * 3600)
}

fn default_snapshot_deadline() -> Duration {
    Duration::from_secs(10)
}

/// Problems in `[handoff]`: every zone must be one the system's time zone database knows.
pub(super) fn validate(config: &HandoffConfig) -> Vec<(Vec<Seg>, String, Option<String>)> {
    let mut problems = Vec::new();
    let at = |keys: &[&str]| {
        std::iter::once("handoff")
            .chain(keys.iter().copied())
            .map(|k| Seg::Key(k.to_string()))
            .collect::<Vec<_>>()
    };
    if let Some(zone) = &config.zone
        && let Err(e) = super::zone::Zone::named(zone)
    {
        problems.push((at(&["zone"]), e, Some(zone_hint())));
    }
    for (name, zone) in &config.people {
        if let Err(e) = super::zone::Zone::named(zone) {
            problems.push((at(&["people", name]), e, Some(zone_hint())));
        }
    }
    // The snapshot deadline is a deadline like any other.
    let snapshot = |_: &str| at(&["snapshot_deadline"]);
    super::rules::schedule(
        &snapshot,
        None,
        Some(config.snapshot_deadline),
        super::rules::MIN_CADENCE,
        &mut problems,
    );
    if config.shift.is_zero() {
        problems.push((
            at(&["shift"]),
            "a shift of zero covers nothing".into(),
            Some("e.g. shift = \"8h\"".into()),
        ));
    }
    problems
}

fn zone_hint() -> String {
    "use an IANA zone name such as \"Europe/Berlin\", \"America/New_York\" or \"UTC\"".into()
}
