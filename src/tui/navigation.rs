//! The console's own keys: what a command means when nothing on screen took it (views and
//! tabs, help, the prompts, back, the action menu), and the hints for pager keys pressed
//! where nothing pages.

use super::command::Command;
use super::component::{Ctx, Effect, View, tabs};
use super::prompt::PromptKind;
use crate::model::Level;

/// The tab a view belongs to (a detail view belongs to its kind).
pub fn tab_of(ctx: &Ctx<'_>) -> View {
    match ctx.view {
        View::Detail(id) => ctx
            .fleet
            .get(id)
            .map_or(View::Overview, |c| View::Kind(c.meta.kind)),
        other => other.clone(),
    }
}

pub fn command(command: Command, ctx: &Ctx<'_>) -> Effect {
    let unknown = |text: &str| Effect::Flash(text.into(), Level::Unknown);
    match command {
        Command::Quit => Effect::Quit,
        Command::Suspend => Effect::Suspend,
        Command::Redraw => Effect::FullRedraw,
        Command::Help => Effect::Help,
        Command::Palette => Effect::Prompt(PromptKind::Palette),
        Command::Filter => Effect::Prompt(PromptKind::Filter),
        Command::Back | Command::Cancel => Effect::Back,
        Command::Actions => Effect::Menu,
        Command::NextView | Command::PrevView => {
            let tabs = tabs(ctx.fleet);
            let current = tabs.iter().position(|t| *t == tab_of(ctx)).unwrap_or(0);
            let next = if command == Command::NextView {
                (current + 1) % tabs.len()
            } else {
                (current + tabs.len() - 1) % tabs.len()
            };
            Effect::Open(tabs[next].clone())
        }
        Command::View1
        | Command::View2
        | Command::View3
        | Command::View4
        | Command::View5
        | Command::View6
        | Command::View7
        | Command::View8
        | Command::View9 => {
            let n = command.view_number().unwrap_or(0);
            match tabs(ctx.fleet).get(n) {
                Some(view) => Effect::Open(view.clone()),
                None => Effect::Flash(format!("there is no view {}", n + 1), Level::Unknown),
            }
        }
        Command::Fleet => Effect::Open(View::Fleet),
        Command::Alerts => Effect::Open(View::Alerts),
        Command::Logs => Effect::OpenLogs(None),
        Command::Reveal => unknown("select a row in a detail view to reveal its private content"),
        Command::NextPage | Command::PrevPage => {
            unknown("focus a Sidekiq set or busy table (] and [) to page through it")
        }
        Command::ClassFilter => {
            unknown("focus a Sidekiq retry, scheduled or dead table to filter it by class")
        }
        _ => Effect::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::Keymap;
    use crate::tui::rows::testing::demo_fleet;
    use crate::tui::theme::Theme;

    fn with_ctx(view: View, f: impl FnOnce(&Ctx<'_>)) {
        let fleet = demo_fleet();
        let theme = Theme::builtin("dark").expect("the dark theme ships");
        let keymap = Keymap::builtin("default").expect("the default keymap ships");
        let ctx = Ctx {
            fleet: &fleet,
            theme: &theme,
            keymap: &keymap,
            role: crate::actions::Role::Shadow,
            demo: None,
            identity: None,
            freeze: None,
            room: None,
            now: std::time::SystemTime::UNIX_EPOCH,
            view: &view,
            focused: true,
        };
        f(&ctx);
    }

    #[test]
    fn tabs_wrap_around_and_a_detail_view_belongs_to_its_kind() {
        with_ctx(View::Overview, |ctx| {
            let tabs = tabs(ctx.fleet);
            assert_eq!(
                command(Command::PrevView, ctx),
                Effect::Open(tabs[tabs.len() - 1].clone())
            );
            assert_eq!(
                command(Command::NextView, ctx),
                Effect::Open(tabs[1].clone())
            );
        });
        let fleet = demo_fleet();
        let id = fleet.components()[0].meta.id.clone();
        let kind = fleet.components()[0].meta.kind;
        with_ctx(View::Detail(id), |ctx| {
            assert_eq!(tab_of(ctx), View::Kind(kind));
        });
    }

    #[test]
    fn a_number_past_the_tabs_says_so() {
        with_ctx(View::Overview, |ctx| {
            let Effect::Flash(text, _) = command(Command::View9, ctx) else {
                // The demo fleet has fewer than nine kinds.
                panic!("view 9 should not exist in the demo fleet");
            };
            assert_eq!(text, "there is no view 9");
        });
    }
}
