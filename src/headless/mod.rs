//! Output without a terminal: `snapshot --json` and `check`, from the same fleet state the
//! console draws.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::model::{Fleet, Level, SourceState};

/// Version of the `snapshot --json` document. Bump on any incompatible change: renaming or
/// removing a field, or changing a field's type or unit. Adding fields is compatible.
pub const SCHEMA: u32 = 1;

/// The `snapshot --json` document.
pub fn snapshot(fleet: &Fleet, mode: &str, now: SystemTime) -> Value {
    let components: Vec<Value> = fleet
        .components()
        .iter()
        .map(|c| {
            let figures: serde_json::Map<String, Value> =
                c.figures.iter().map(|f| (f.key.to_string(), json!(finite(f.value)))).collect();
            json!({
                "id": c.meta.id,
                "kind": c.meta.kind,
                "name": c.meta.id.name(),
                "region": c.meta.region,
                "tags": c.meta.tags,
                "health": {
                    "level": c.health.level,
                    "reasons": c.health.reasons.iter().map(|r| crate::sanitize::sanitize(r).into_owned()).collect::<Vec<_>>(),
                },
                "source": {
                    "state": c.status.effective_state(now),
                    "age_s": c.status.age(now).map(|a| a.as_secs_f64()),
                    "error": c.status.error,
                    "last_ok": c.status.last_ok.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                    "down_since": c.status.down_since.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                    "retry_every_s": c.status.retry_every.map(|d| d.as_secs_f64()),
                },
                "figures": figures,
                "alerts": {"firing": c.alerts.firing, "suppressed": c.alerts.suppressed},
                "data": c.reading.as_ref().map(|r| r.to_json()),
            })
        })
        .collect();
    let alerts: Vec<Value> = fleet
        .alerts()
        .map(|(a, tied)| {
            json!({
                "alertmanager": tied.source,
                "fingerprint": a.fingerprint,
                "name": a.name(),
                "severity": a.severity(),
                "state": a.state,
                "silenced_by": a.silenced_by,
                "inhibited_by": a.inhibited_by,
                "starts_at": a.starts_at.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                "labels": a.labels,
                "annotations": a.annotations,
                "components": tied.components,
            })
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "generated_at": humantime::format_rfc3339_seconds(now).to_string(),
        "mode": mode,
        "worst": fleet.worst(),
        "components": components,
        "alerts": alerts,
    })
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// `check` output: one line per component in the Nagios style, and the exit code of the
/// worst enabled component (0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN).
pub fn check(fleet: &Fleet) -> (Vec<String>, i32) {
    let mut lines = Vec::new();
    for c in fleet.components() {
        let disabled = c.status.state == SourceState::Disabled;
        let level = if disabled {
            "DISABLED"
        } else {
            c.health.level.word()
        };
        let mut line = format!("{level} {}", c.meta.id);
        if let Some(f) = c.key_figure() {
            line.push_str(&format!(" - {} {}", f.label, f.display_value()));
        }
        if !c.health.reasons.is_empty() {
            line.push_str(&format!(" - {}", c.health.reasons.join("; ")));
        }
        lines.push(crate::sanitize::sanitize(&line).into_owned());
    }
    let worst = fleet.worst();
    let code = if fleet.components().is_empty() {
        // A monitor must never read silence as health: say why the answer is UNKNOWN.
        lines.push("UNKNOWN - no components configured: add a backend to the config".into());
        Level::Unknown.exit_code()
    } else {
        worst.exit_code()
    };
    (lines, code)
}

#[cfg(test)]
mod check_tests {
    use super::*;

    #[test]
    fn an_empty_fleet_is_unknown_and_says_why() {
        let (lines, code) = check(&Fleet::default());
        assert_eq!(code, 3);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("UNKNOWN"), "{lines:?}");
        assert!(lines[0].contains("no components configured"), "{lines:?}");
    }
}
