//! The fleet as mastop sees it: every configured component, its latest reading, status,
//! health and recent history. Updated from source feeds; read by views.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use super::alerts::{AlertRules, AlertSet, Known, Tally, Tied};
use super::history::{self, History, Point};
use super::status::{SourceState, SourceStatus};
use super::{ComponentId, Figure, Finding, Health, Level, Reading, Threshold};

/// What config says about a component: who it is and where it lives.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentMeta {
    pub id: ComponentId,
    /// Backend kind as the operator says it: `postgres`, `redis`, `edge`…
    pub kind: &'static str,
    pub region: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ComponentState {
    pub meta: ComponentMeta,
    pub status: SourceStatus,
    pub reading: Option<Arc<dyn Reading>>,
    /// Figures of the latest reading, computed once per reading rather than per frame.
    pub figures: Vec<Figure>,
    pub health: Health,
    /// The alerts tied to this component (for an Alertmanager, also those tied to nothing).
    pub alerts: Tally,
    history: HashMap<&'static str, History>,
    /// History per name of a figure's breakdown (per queue), at most
    /// [`MAX_BREAKDOWN`] names.
    breakdown: BTreeMap<(&'static str, String), History>,
}

/// Names a component keeps a breakdown history for: a Sidekiq with a thousand queues
/// keeps the first of them by name rather than grow without bound.
pub const MAX_BREAKDOWN: usize = 64;

impl ComponentState {
    pub fn key_figure(&self) -> Option<&Figure> {
        let reading = self.reading.as_ref()?;
        match reading.key_figure() {
            Some(key) => self.figures.iter().find(|f| f.key == key),
            None => self.figures.first(),
        }
    }
    pub fn history(&self, key: &str) -> Option<&History> {
        self.history.get(key)
    }

    /// The history of each name in a figure's breakdown (each queue's latency), by name.
    pub fn breakdown(&self, key: &str) -> Vec<(&str, &History)> {
        self.breakdown
            .iter()
            .filter(|((k, _), _)| *k == key)
            .map(|((_, name), h)| (name.as_str(), h))
            .collect()
    }

    /// Lays older points before one name's polled history in a figure's breakdown.
    pub fn backfill_breakdown(
        &mut self,
        key: &'static str,
        name: &str,
        older: impl IntoIterator<Item = Point>,
    ) {
        if self.breakdown.len() >= MAX_BREAKDOWN
            && !self.breakdown.contains_key(&(key, name.to_string()))
        {
            return;
        }
        self.breakdown
            .entry((key, name.to_string()))
            .or_default()
            .backfill(older);
    }

    fn record_breakdown(&mut self, reading: &dyn Reading, at: SystemTime) {
        let values = reading.breakdown();
        let present: std::collections::BTreeSet<(&'static str, &str)> =
            values.iter().map(|(k, n, _)| (*k, n.as_str())).collect();
        self.breakdown
            .retain(|(k, n), _| present.contains(&(*k, n.as_str())));
        for (key, name, value) in values {
            let slot = (key, name);
            if !self.breakdown.contains_key(&slot) && self.breakdown.len() >= MAX_BREAKDOWN {
                continue;
            }
            self.breakdown.entry(slot).or_default().push(at, value);
        }
    }

    /// Every figure of the latest reading with its history, in the reading's order.
    pub fn trends(&self) -> Vec<(&Figure, &History)> {
        self.figures
            .iter()
            .filter_map(|f| Some((f, self.history.get(f.key)?)))
            .collect()
    }

    /// Lays an older series (oldest first) before the figure's polled history.
    pub fn backfill_points(&mut self, key: &'static str, older: impl IntoIterator<Item = Point>) {
        self.history.entry(key).or_default().backfill(older);
    }

    /// Lays an hour of evenly spaced older values (oldest first, one per
    /// `WINDOW / HISTORY_LEN`) before the figure's polled history: the series ends one step
    /// before the first polled point, or at the last poll when nothing was polled yet.
    pub fn backfill(&mut self, key: &'static str, values: impl IntoIterator<Item = f64>) {
        let step = history::WINDOW / history::HISTORY_LEN as u32;
        let end = match self.history.get(key).and_then(|h| h.points().next()) {
            Some(first) => first.at.checked_sub(step).unwrap_or(first.at),
            None => self
                .status
                .last_attempt
                .or(self.status.last_ok)
                .unwrap_or_else(SystemTime::now),
        };
        self.backfill_points(key, history::spaced(values, end, step));
    }
}

/// Threshold overrides from config: kind → figure key → threshold.
pub type ThresholdOverrides = HashMap<String, HashMap<String, Threshold>>;

#[derive(Debug, Clone, Default)]
pub struct Fleet {
    components: Vec<ComponentState>,
    index: HashMap<ComponentId, usize>,
    overrides: ThresholdOverrides,
    alert_rules: AlertRules,
    /// Every alert the fleet's Alertmanagers report, with the components it is tied to.
    tied: Vec<Tied>,
}

impl Fleet {
    pub fn new(metas: Vec<(ComponentMeta, SourceStatus)>, overrides: ThresholdOverrides) -> Self {
        let mut fleet = Fleet {
            overrides,
            ..Fleet::default()
        };
        for (meta, status) in metas {
            fleet.add(meta, status);
        }
        fleet
    }

    /// How alerts are tied to components and whether their severity counts in health.
    pub fn with_alert_rules(mut self, rules: AlertRules) -> Self {
        self.alert_rules = rules;
        self.retie();
        self
    }

    pub fn alert_rules(&self) -> &AlertRules {
        &self.alert_rules
    }

    /// The alerts of every Alertmanager whose data is current, with what each is tied to.
    pub fn alerts(&self) -> impl Iterator<Item = (&super::alerts::Alert, &Tied)> {
        self.tied.iter().filter_map(|t| {
            let set = self.get(&t.source)?.reading.as_ref()?.alerts()?;
            Some((set.alerts.get(t.index)?, t))
        })
    }

    /// Every Alertmanager's alert set, with its component.
    pub fn alert_sets(&self) -> impl Iterator<Item = (&ComponentState, &AlertSet)> {
        self.components.iter().filter_map(|c| {
            let set = c.reading.as_ref()?.alerts()?;
            Some((c, set))
        })
    }

    /// A component that started after the others (a host found by discovery). Returns
    /// false, changing nothing, when one with that id is already here.
    pub fn add(&mut self, meta: ComponentMeta, status: SourceStatus) -> bool {
        if self.index.contains_key(&meta.id) {
            return false;
        }
        self.index.insert(meta.id.clone(), self.components.len());
        let health = status_health(&status, status.state);
        self.components.push(ComponentState {
            meta,
            status,
            reading: None,
            figures: Vec::new(),
            health,
            alerts: Tally::default(),
            history: HashMap::new(),
            breakdown: BTreeMap::new(),
        });
        if !self.tied.is_empty() {
            self.retie();
        }
        true
    }

    /// Lays older points, at their own moments, into a figure's history before those polled.
    pub fn backfill_points(
        &mut self,
        id: &ComponentId,
        key: &'static str,
        older: impl IntoIterator<Item = Point>,
    ) {
        if let Some(&i) = self.index.get(id) {
            self.components[i].backfill_points(key, older);
        }
    }

    /// Lays older points before one name's polled history in a figure's breakdown.
    pub fn backfill_breakdown(
        &mut self,
        id: &ComponentId,
        key: &'static str,
        name: &str,
        older: impl IntoIterator<Item = Point>,
    ) {
        if let Some(&i) = self.index.get(id) {
            self.components[i].backfill_breakdown(key, name, older);
        }
    }

    /// Lays older values (from Prometheus) into a figure's history, before those polled.
    pub fn backfill(
        &mut self,
        id: &ComponentId,
        key: &'static str,
        values: impl IntoIterator<Item = f64>,
    ) {
        if let Some(&i) = self.index.get(id) {
            self.components[i].backfill(key, values);
        }
    }

    pub fn components(&self) -> &[ComponentState] {
        &self.components
    }

    pub fn get(&self, id: &ComponentId) -> Option<&ComponentState> {
        self.index.get(id).map(|&i| &self.components[i])
    }

    /// Applies a source's latest status and (when it has one) reading. A new reading
    /// appends to history; a failed poll keeps the previous reading for display.
    pub fn apply(
        &mut self,
        id: &ComponentId,
        status: SourceStatus,
        reading: Option<Arc<dyn Reading>>,
    ) {
        let Some(&i) = self.index.get(id) else {
            return;
        };
        let overrides = self.overrides.get(self.components[i].meta.kind);
        let component = &mut self.components[i];
        let was = component.status.state;
        let fresh = match (&reading, &component.reading) {
            (Some(new), Some(old)) => !Arc::ptr_eq(new, old),
            (Some(_), None) => true,
            _ => false,
        };
        if fresh && let Some(new) = &reading {
            component.figures = new.figures();
            // A reading is as old as the poll that answered with it.
            let at = status
                .last_ok
                .or(status.last_attempt)
                .unwrap_or_else(SystemTime::now);
            for figure in &component.figures {
                component
                    .history
                    .entry(figure.key)
                    .or_default()
                    .push(at, figure.value);
            }
            component.record_breakdown(new.as_ref(), at);
            component.reading = Some(Arc::clone(new));
        }
        component.status = status;
        component.health = evaluate_component(component, component.status.state, overrides);
        let reports_alerts = component
            .reading
            .as_ref()
            .is_some_and(|r| r.alerts().is_some());
        if reports_alerts && (fresh || was != component.status.state) {
            self.retie();
        }
    }

    /// Ties every current alert to its components again and re-judges every component: an
    /// Alertmanager answered, stopped answering, or the rules or components changed.
    fn retie(&mut self) {
        let current =
            |c: &ComponentState| matches!(c.status.state, SourceState::Ok | SourceState::Stale);
        let known = Known::new(self.components.iter().map(|c| (&c.meta.id, c.meta.kind)));
        let sets = self
            .components
            .iter()
            .filter(|c| current(c))
            .filter_map(|c| {
                let set = c.reading.as_ref()?.alerts()?;
                Some((&c.meta.id, set))
            });
        let (mut tallies, tied) = super::alerts::tally(&self.alert_rules, sets, &known);
        self.tied = tied;
        for component in &mut self.components {
            component.alerts = tallies.remove(&component.meta.id).unwrap_or_default();
            let overrides = self.overrides.get(component.meta.kind);
            component.health = evaluate_component(component, component.status.state, overrides);
        }
    }

    /// Re-evaluates staleness as time passes; returns true if any health changed.
    pub fn refresh_staleness(&mut self, now: SystemTime) -> bool {
        let mut changed = false;
        for component in &mut self.components {
            let overrides = self.overrides.get(component.meta.kind);
            let health =
                evaluate_component(component, component.status.effective_state(now), overrides);
            if health != component.health {
                component.health = health;
                changed = true;
            }
        }
        changed
    }

    /// The worst level across enabled components.
    pub fn worst(&self) -> Level {
        self.components
            .iter()
            .filter(|c| c.status.state != SourceState::Disabled)
            .map(|c| c.health.level)
            .max()
            .unwrap_or(Level::Ok)
    }

    /// Kinds present, in a stable operator-friendly order (edge first, storage last).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = Vec::new();
        for c in &self.components {
            if !kinds.contains(&c.meta.kind) {
                kinds.push(c.meta.kind);
            }
        }
        kinds
    }
}

fn evaluate_component(
    component: &ComponentState,
    state: SourceState,
    overrides: Option<&HashMap<String, Threshold>>,
) -> Health {
    let alerts = &component.alerts.findings;
    match state {
        SourceState::Ok => {
            let Some(reading) = &component.reading else {
                return with_alerts(Health::unknown("no data yet"), alerts);
            };
            let mut findings = reading.findings();
            findings.extend(alerts.iter().cloned());
            super::health::evaluate(&component.figures, &findings, |key| {
                overrides.and_then(|o| o.get(key))
            })
        }
        other => with_alerts(status_health(&component.status, other), alerts),
    }
}

/// A health judged without a reading, made worse by the component's firing alerts: an
/// alert still says something when mastop itself cannot see the component.
fn with_alerts(mut health: Health, alerts: &[Finding]) -> Health {
    if alerts.is_empty() {
        return health;
    }
    let own = health.level;
    let mut reasons: Vec<(Level, String)> = health.reasons.drain(..).map(|r| (own, r)).collect();
    reasons.extend(alerts.iter().map(|f| (f.level, f.message.clone())));
    health.level = reasons.iter().map(|(l, _)| *l).max().unwrap_or(own);
    reasons.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
    health.reasons = reasons.into_iter().map(|(_, r)| r).collect();
    health
}

/// Health when there is no fresh reading to judge: the status itself is the finding.
fn status_health(status: &SourceStatus, state: SourceState) -> Health {
    let detail = status.error.as_deref().unwrap_or("");
    match state {
        SourceState::Ok => Health::ok(),
        SourceState::Pending => Health::unknown("waiting for first poll"),
        SourceState::Stale => Health::unknown("data is stale: poller not answering"),
        // A backend mastop cannot reach is treated as down: at 3 a.m. that must be loud.
        SourceState::Down => Health {
            level: Level::Crit,
            reasons: vec![format!("unreachable: {detail}")],
        },
        SourceState::Denied => Health::unknown(format!("access denied: {detail}")),
        SourceState::Disabled => Health::unknown(format!("disabled {detail}").trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Detail, SourceState};

    /// A reading whose only figure is broken down by the names it is given.
    #[derive(Debug)]
    struct Queues(Vec<(String, f64)>);

    impl Reading for Queues {
        fn figures(&self) -> Vec<Figure> {
            let worst = self.0.iter().map(|(_, v)| *v).fold(0.0, f64::max);
            vec![Figure::new(
                "queue_latency_s",
                "queue latency",
                worst,
                crate::model::Unit::Seconds,
            )]
        }
        fn breakdown(&self) -> Vec<(&'static str, String, f64)> {
            self.0
                .iter()
                .map(|(n, v)| ("queue_latency_s", n.clone(), *v))
                .collect()
        }
        fn detail(&self) -> Detail {
            Detail::default()
        }
        fn to_json(&self) -> serde_json::Value {
            serde_json::Value::Null
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn poll(fleet: &mut Fleet, id: &ComponentId, secs: u64, queues: &[(&str, f64)]) {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs);
        let status = SourceStatus {
            state: SourceState::Ok,
            last_ok: Some(at),
            last_attempt: Some(at),
            ..SourceStatus::pending(Duration::from_secs(2))
        };
        let reading = Queues(queues.iter().map(|(n, v)| ((*n).into(), *v)).collect());
        fleet.apply(id, status, Some(Arc::new(reading)));
    }

    fn fleet() -> (Fleet, ComponentId) {
        let id = ComponentId::new("sidekiq", "main");
        let meta = ComponentMeta {
            id: id.clone(),
            kind: "sidekiq",
            region: "eu".into(),
            tags: Vec::new(),
        };
        let fleet = Fleet::new(
            vec![(meta, SourceStatus::pending(Duration::from_secs(2)))],
            Default::default(),
        );
        (fleet, id)
    }

    #[test]
    fn each_queue_keeps_its_own_history_and_a_gone_queue_is_forgotten() {
        let (mut fleet, id) = fleet();
        poll(&mut fleet, &id, 0, &[("default", 1.0), ("push", 5.0)]);
        poll(&mut fleet, &id, 10, &[("default", 2.0), ("push", 6.0)]);
        poll(&mut fleet, &id, 20, &[("default", 3.0)]);
        let c = fleet.get(&id).expect("component");
        let by_queue = c.breakdown("queue_latency_s");
        let names: Vec<&str> = by_queue.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["default"], "push is gone from Sidekiq");
        let values: Vec<f64> = by_queue[0].1.values().collect();
        assert_eq!(values, [1.0, 2.0, 3.0]);
        assert!(c.breakdown("enqueued").is_empty());
    }

    #[test]
    fn a_thousand_queues_keep_a_bounded_breakdown() {
        let (mut fleet, id) = fleet();
        let names: Vec<String> = (0..1000).map(|i| format!("q{i:04}")).collect();
        let queues: Vec<(&str, f64)> = names.iter().map(|n| (n.as_str(), 1.0)).collect();
        poll(&mut fleet, &id, 0, &queues);
        poll(&mut fleet, &id, 10, &queues);
        let c = fleet.get(&id).expect("component");
        assert_eq!(c.breakdown("queue_latency_s").len(), MAX_BREAKDOWN);
    }
}
