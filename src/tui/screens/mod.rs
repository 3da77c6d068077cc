//! The screens of the view stack, each a component that owns its rows, selection, sort and
//! filter. The console keeps them here, apart from what they read (`Ctx`), so one can be
//! borrowed mutably while the context is borrowed from the rest of the console.

pub mod audit;
pub mod detail;
pub mod fleet;
pub mod handoff;
pub mod kind;
pub mod list;
pub mod overview;

use std::collections::HashMap;

use super::alerts::AlertsView;
use super::component::{Ctx, Screen, View};

pub use audit::AuditScreen;
pub use detail::{DetailScreen, DetailState};
pub use fleet::FleetScreen;
pub use handoff::HandoffState;
pub use kind::KindScreen;
pub use overview::Overview;

#[derive(Default)]
pub struct Screens {
    pub overview: Overview,
    pub kinds: HashMap<&'static str, KindScreen>,
    pub detail: DetailScreen,
    pub audit: AuditScreen,
    pub fleet: FleetScreen,
    pub handoff: HandoffState,
    pub alerts: AlertsView,
}

impl Screens {
    pub fn current(&self, view: &View) -> Option<&dyn Screen> {
        Some(match view {
            View::Overview => &self.overview,
            View::Kind(kind) => self.kinds.get(kind)?,
            View::Detail(_) => &self.detail,
            View::Audit => &self.audit,
            View::Handoff => &self.handoff,
            View::Fleet => &self.fleet,
            View::Alerts => &self.alerts,
        })
    }

    pub fn current_mut(&mut self, view: &View) -> Option<&mut dyn Screen> {
        Some(match view {
            View::Overview => &mut self.overview,
            View::Kind(kind) => self.kinds.get_mut(kind)?,
            View::Detail(_) => &mut self.detail,
            View::Audit => &mut self.audit,
            View::Handoff => &mut self.handoff,
            View::Fleet => &mut self.fleet,
            View::Alerts => &mut self.alerts,
        })
    }

    /// The fleet or the clock changed. The overview, the kinds and the audit list are
    /// always current (tabs and counts read them); the fleet grouping and ten thousand
    /// alerts cost more, so they are built only while on screen, as is the detail.
    pub fn refresh(&mut self, ctx: &Ctx<'_>) {
        self.overview.refresh(ctx);
        self.audit.refresh(ctx);
        for kind in ctx.fleet.kinds() {
            self.kinds
                .entry(kind)
                .or_insert_with(|| KindScreen::new(kind))
                .refresh(ctx);
        }
        match ctx.view {
            View::Fleet => self.fleet.refresh(ctx),
            View::Alerts => Screen::refresh(&mut self.alerts, ctx),
            View::Detail(_) => self.detail.refresh(ctx),
            _ => {}
        }
    }
}
