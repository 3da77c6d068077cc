//! The fleet as mastop sees it: every configured component, its latest reading, status,
//! health and recent history. Updated from source feeds; read by views.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::history::Ring;
use super::status::{SourceState, SourceStatus};
use super::{ComponentId, Figure, Health, Level, Reading, Threshold};

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
    history: HashMap<&'static str, Ring>,
}

impl ComponentState {
    pub fn key_figure(&self) -> Option<&Figure> {
        let reading = self.reading.as_ref()?;
        match reading.key_figure() {
            Some(key) => self.figures.iter().find(|f| f.key == key),
            None => self.figures.first(),
        }
    }
    pub fn history(&self, key: &str) -> Option<&Ring> {
        self.history.get(key)
    }
}

/// Threshold overrides from config: kind → figure key → threshold.
pub type ThresholdOverrides = HashMap<String, HashMap<String, Threshold>>;

#[derive(Debug, Clone, Default)]
pub struct Fleet {
    components: Vec<ComponentState>,
    index: HashMap<ComponentId, usize>,
    overrides: ThresholdOverrides,
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
            history: HashMap::new(),
        });
        true
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
        let fresh = match (&reading, &component.reading) {
            (Some(new), Some(old)) => !Arc::ptr_eq(new, old),
            (Some(_), None) => true,
            _ => false,
        };
        if fresh && let Some(new) = &reading {
            component.figures = new.figures();
            for figure in &component.figures {
                component
                    .history
                    .entry(figure.key)
                    .or_default()
                    .push(figure.value);
            }
            component.reading = Some(Arc::clone(new));
        }
        component.status = status;
        component.health = evaluate_component(component, component.status.state, overrides);
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
    match state {
        SourceState::Ok => {
            let Some(reading) = &component.reading else {
                return Health::unknown("no data yet");
            };
            super::health::evaluate(&component.figures, &reading.findings(), |key| {
                overrides.and_then(|o| o.get(key))
            })
        }
        other => status_health(&component.status, other),
    }
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
