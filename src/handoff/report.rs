//! The handoff report as data: who hands to whom, the shift window, what is not OK, what
//! was done (from the audit history), and what the outgoing engineer wrote down. Built by
//! pure functions from values already in hand, so the same inputs always give the same
//! report.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::shift_log::{EntryKind, ShiftEntry, still_open};
use crate::actions::audit::{AuditRecord, Phase};
use crate::model::{Fleet, Level, SourceState};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    /// IANA zone.
    pub zone: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentProblem {
    pub id: String,
    pub level: String,
    /// Why, worst first; the source's error when it could not be read.
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionTaken {
    pub action_id: String,
    /// RFC 3339 UTC: the intent, or the outcome when no intent was written (refused).
    pub time: String,
    pub operator: String,
    pub console_host: String,
    pub title: String,
    pub kind: String,
    pub target: String,
    pub risk: String,
    /// ok, failed, refused, aborted, or "unknown" when only the intent was recorded (the
    /// console died mid-action, or it is still running).
    pub outcome: String,
    pub operations: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// `runbook NAME, step N` (and `dry run`) when a runbook ran this action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
}

/// A silence set on an Alertmanager during the shift, as Alertmanager reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SilenceTaken {
    /// The Alertmanager component, `alertmanager/main`.
    pub alertmanager: String,
    pub id: String,
    pub created_by: String,
    pub comment: String,
    /// `name="value", …`
    pub matchers: String,
    /// RFC 3339 UTC.
    pub starts_at: String,
    pub ends_at: String,
    /// active, pending or expired.
    pub state: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub console_host: String,
    pub console_id: String,
    /// RFC 3339 UTC.
    pub at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub id: String,
    /// RFC 3339 UTC.
    pub written_at: String,
    pub from: Person,
    pub to: Person,
    pub console_host: String,
    pub console_id: String,
    /// RFC 3339 UTC, start and end of the shift.
    pub window_start: String,
    pub window_end: String,
    /// Where the component list came from: "live snapshot", "demo fleet".
    pub fleet_source: String,
    pub not_ok: Vec<ComponentProblem>,
    pub actions: Vec<ActionTaken>,
    pub notes: Vec<ShiftEntry>,
    pub open_items: Vec<ShiftEntry>,
    pub mitigations: Vec<ShiftEntry>,
    pub silences: Vec<ShiftEntry>,
    /// The silences set during the shift, read from Alertmanager; `None` where no
    /// Alertmanager is configured, and the hand-kept list is all there is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager_silences: Option<Vec<SilenceTaken>>,
    /// What the report could not include and why (a store that did not answer, unreadable
    /// audit lines), so a reader knows it may be incomplete.
    #[serde(default)]
    pub gaps: Vec<String>,
    #[serde(default)]
    pub acknowledged: Option<Acknowledgement>,
}

impl Handoff {
    pub fn written(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339(&self.written_at).ok()
    }
}

/// Everything a report is built from.
pub struct Inputs<'a> {
    pub id: String,
    pub written_at: SystemTime,
    pub from: Person,
    pub to: Person,
    pub console_host: String,
    pub console_id: String,
    pub window: (SystemTime, SystemTime),
    pub fleet_source: String,
    pub not_ok: Vec<ComponentProblem>,
    /// Audit records from every source (local file, shared history); duplicates are fine.
    pub audit: &'a [AuditRecord],
    /// Shift log entries from every store; duplicates are fine.
    pub entries: &'a [ShiftEntry],
    /// Every silence the fleet's Alertmanagers hold ([`silences_of`]), filtered to the
    /// window here; `None` without an Alertmanager.
    pub alertmanager_silences: Option<Vec<SilenceTaken>>,
    pub gaps: Vec<String>,
}

pub fn build(inputs: Inputs<'_>) -> Handoff {
    let (start, end) = inputs.window;
    let in_window = |t: Option<SystemTime>| t.is_some_and(|t| t >= start && t <= end);
    let entries = super::shift_log::merge(inputs.entries.to_vec());
    let notes = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Note && in_window(e.at()))
        .cloned()
        .collect();
    let open: Vec<ShiftEntry> = still_open(&entries)
        .into_iter()
        .filter(|e| e.at().is_some_and(|t| t <= end))
        .cloned()
        .collect();
    let of = |kind: EntryKind| -> Vec<ShiftEntry> {
        open.iter().filter(|e| e.kind == kind).cloned().collect()
    };
    Handoff {
        id: inputs.id,
        written_at: rfc3339(inputs.written_at),
        from: inputs.from,
        to: inputs.to,
        console_host: inputs.console_host,
        console_id: inputs.console_id,
        window_start: rfc3339(start),
        window_end: rfc3339(end),
        fleet_source: inputs.fleet_source,
        not_ok: inputs.not_ok,
        actions: actions_in(inputs.audit, start, end),
        notes,
        open_items: of(EntryKind::OpenItem),
        mitigations: of(EntryKind::Mitigation),
        silences: of(EntryKind::Silence),
        alertmanager_silences: inputs.alertmanager_silences.map(|list| {
            list.into_iter()
                .filter(|s| in_window(humantime::parse_rfc3339(&s.starts_at).ok()))
                .collect()
        }),
        gaps: inputs.gaps,
        acknowledged: None,
    }
}

pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Every silence the fleet's Alertmanagers hold, oldest first; `None` when the fleet has no
/// Alertmanager. An Alertmanager whose data is not current is a gap, not an empty list.
pub fn silences_of(fleet: &Fleet, now: SystemTime) -> (Option<Vec<SilenceTaken>>, Vec<String>) {
    use crate::model::alerts::SilenceState;
    let mut found = None;
    let mut gaps = Vec::new();
    for c in fleet.components() {
        if c.meta.kind != crate::sources::alertmanager::KIND {
            continue;
        }
        let list: &mut Vec<SilenceTaken> = found.get_or_insert_with(Vec::new);
        let state = c.status.effective_state(now);
        let set = c.reading.as_ref().and_then(|r| r.alerts());
        let (SourceState::Ok | SourceState::Stale, Some(set)) = (state, set) else {
            gaps.push(format!(
                "silences from {}: it is {}{}",
                c.meta.id,
                state.word(),
                c.status
                    .error
                    .as_deref()
                    .map_or_else(String::new, |e| format!(" ({e})"))
            ));
            continue;
        };
        for s in &set.silences {
            let Some(starts) = s.starts_at else { continue };
            list.push(SilenceTaken {
                alertmanager: c.meta.id.to_string(),
                id: s.id.clone(),
                created_by: s.created_by.clone(),
                comment: s.comment.clone(),
                matchers: crate::actions::kinds::silences::matchers_text(&s.matchers),
                starts_at: rfc3339(starts),
                ends_at: s.ends_at.map(rfc3339).unwrap_or_default(),
                state: match s.state {
                    SilenceState::Active => "active",
                    SilenceState::Pending => "pending",
                    SilenceState::Expired => "expired",
                }
                .into(),
            });
        }
    }
    if let Some(list) = found.as_mut() {
        list.sort_by(|a, b| a.starts_at.cmp(&b.starts_at));
    }
    (found, gaps)
}

/// Every component not OK in `fleet` at `now`, worst first; disabled ones are left out.
pub fn not_ok(fleet: &Fleet, now: SystemTime) -> Vec<ComponentProblem> {
    let mut out: Vec<(Level, ComponentProblem)> = fleet
        .components()
        .iter()
        .filter(|c| c.status.state != SourceState::Disabled)
        .filter(|c| c.health.level != Level::Ok)
        .map(|c| {
            let mut reasons = c.health.reasons.clone();
            let state = c.status.effective_state(now);
            if let Some(error) = &c.status.error
                && state != SourceState::Ok
            {
                reasons.push(format!("source {}: {error}", state.word()));
            }
            (
                c.health.level,
                ComponentProblem {
                    id: c.meta.id.to_string(),
                    level: c.health.level.word().to_string(),
                    reasons,
                },
            )
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    out.into_iter().map(|(_, p)| p).collect()
}

/// The actions whose first record falls in `[start, end]`, one per action, oldest first:
/// intent and outcome records paired by action id, each record id counted once.
pub fn actions_in(records: &[AuditRecord], start: SystemTime, end: SystemTime) -> Vec<ActionTaken> {
    let mut seen = std::collections::HashSet::new();
    let mut by_action: BTreeMap<&str, (Option<&AuditRecord>, Option<&AuditRecord>)> =
        BTreeMap::new();
    for r in records.iter().filter(|r| seen.insert(r.id.as_str())) {
        let slot = by_action.entry(r.action_id.as_str()).or_default();
        match r.phase {
            Phase::Intent => slot.0 = Some(r),
            Phase::Outcome => slot.1 = Some(r),
        }
    }
    let mut out: Vec<(SystemTime, ActionTaken)> = by_action
        .into_values()
        .filter_map(|(intent, outcome)| {
            let first = intent.or(outcome)?;
            let at = first.at()?;
            if at < start || at > end {
                return None;
            }
            let last = outcome.unwrap_or(first);
            Some((
                at,
                ActionTaken {
                    action_id: first.action_id.clone(),
                    time: first.time.clone(),
                    operator: first.operator.clone(),
                    console_host: first.console_host.clone(),
                    title: first.title.clone(),
                    kind: first.kind.clone(),
                    target: first.target.clone(),
                    risk: first.risk.clone(),
                    runbook: first.runbook.as_ref().map(|m| {
                        let dry = if m.dry_run { ", dry run" } else { "" };
                        format!("runbook {}, step {}{dry}", m.name, m.step)
                    }),
                    outcome: outcome
                        .and_then(|o| o.outcome)
                        .map_or("unknown", |o| o.word())
                        .to_string(),
                    operations: last.operations.clone(),
                    error: outcome.and_then(|o| o.error.clone()),
                    duration_ms: outcome.and_then(|o| o.duration_ms),
                },
            ))
        })
        .collect();
    out.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.action_id.cmp(&b.1.action_id))
    });
    out.into_iter().map(|(_, a)| a).collect()
}
