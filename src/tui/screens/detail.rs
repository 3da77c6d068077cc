//! One component in detail: its tables (one focused at a time), panels and charts, and the
//! Sidekiq pager that replaces a set's first page with the page the operator asked for.

use std::sync::Arc;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::model::detail::TableData;
use crate::model::{ComponentId, Detail, Level, Reading};
use crate::sources::sidekiq::browse::{BrowseRequest, Browsed};
use crate::tui::browse::{self as pager, Browsable, BrowseState, Step};
use crate::tui::command::Command;
use crate::tui::component::{Component, Ctx, Effect, Hint, Screen, View};
use crate::tui::prompt::PromptKind;
use crate::tui::rows;
use crate::tui::table::TableView;

#[derive(Debug, Clone)]
pub struct DetailState {
    pub id: ComponentId,
    pub detail: Detail,
    /// One view per table section, in section order; selection, sort and filter survive
    /// the reading being replaced every poll.
    pub tables: Vec<TableView>,
    /// Which table the keys act on.
    pub focus: usize,
}

impl DetailState {
    pub fn focused(&self) -> Option<(&TableView, &TableData)> {
        let data = rows::detail::tables(&self.detail).nth(self.focus)?;
        Some((self.tables.get(self.focus)?, data))
    }
}

#[derive(Debug, Default, Clone)]
pub struct DetailScreen {
    pub state: Option<DetailState>,
    /// The page of a Sidekiq table the operator paged to.
    pub browse: Option<BrowseState>,
}

fn shown<'a>(ctx: &Ctx<'a>) -> Option<&'a ComponentId> {
    match ctx.view {
        View::Detail(id) => Some(id),
        _ => None,
    }
}

impl DetailScreen {
    /// The reading the view of `id` shows: the poll's, with the browsed page in place.
    pub fn reading_shown(&self, ctx: &Ctx<'_>, id: &ComponentId) -> Option<Arc<dyn Reading>> {
        let reading = ctx.fleet.get(id)?.reading.as_ref()?;
        Some(pager::apply(id, reading, self.browse.as_ref()))
    }

    /// The focused table's title and the selected row's key, if the row has one (rows
    /// that stand for an object carry a key).
    pub fn selected_row(&self) -> Option<(String, String)> {
        let state = self.state.as_ref()?;
        let (view, data) = state.focused()?;
        let key = data.rows.get(view.selected_row()?)?.key.clone()?;
        let title = rows::detail::table_titles(&state.detail)
            .get(state.focus)?
            .to_string();
        Some((title, key))
    }

    /// The focused table, if it can be paged.
    pub fn browsable(&self, ctx: &Ctx<'_>) -> Option<(ComponentId, Browsable)> {
        let id = shown(ctx)?;
        if ctx.fleet.get(id)?.meta.kind != crate::sources::sidekiq::KIND {
            return None;
        }
        let state = self.state.as_ref()?;
        let title = rows::detail::table_titles(&state.detail)
            .get(state.focus)?
            .to_string();
        Some((id.clone(), Browsable::from_title(&title)?))
    }

    /// The class the focused set table is filtered by, if any.
    pub fn class_filter(&self, ctx: &Ctx<'_>) -> Option<String> {
        let (id, table) = self.browsable(ctx)?;
        let state = self
            .browse
            .as_ref()
            .filter(|s| s.component == id && s.table == table)?;
        match &state.request {
            BrowseRequest::Set { class, .. } => class.clone(),
            BrowseRequest::Busy { .. } => None,
        }
    }

    /// The class filter typed at the prompt: the first page of that class.
    pub fn filter_class(&mut self, ctx: &Ctx<'_>, class: &str) -> Effect {
        let Some((id, Browsable::Set(set))) = self.browsable(ctx) else {
            return Effect::None;
        };
        let wanted = pager::filter_class(&mut self.browse, &id, set, class);
        self.refresh(ctx);
        match wanted {
            Some((id, request)) => Effect::Browse(id, request),
            None => Effect::None,
        }
    }

    fn page(&mut self, ctx: &Ctx<'_>, direction: Step) -> Effect {
        let Some((id, table)) = self.browsable(ctx) else {
            return Effect::Flash(
                "focus a Sidekiq set or busy table (] and [) to page through it".into(),
                Level::Unknown,
            );
        };
        if ctx.demo.is_some() {
            return Effect::Flash(
                "the demo has no Redis behind it: paging reads a real Sidekiq's sets".into(),
                Level::Unknown,
            );
        }
        let Some(reading) = ctx.fleet.get(&id).and_then(|c| c.reading.clone()) else {
            return Effect::None;
        };
        match pager::step(&mut self.browse, &id, table, reading.as_ref(), direction) {
            Ok((id, request)) => Effect::Browse(id, request),
            Err(e) => Effect::Flash(e, Level::Unknown),
        }
    }

    /// A page came back from a browse request: whether the screen changed.
    pub fn browsed(
        &mut self,
        ctx: &Ctx<'_>,
        id: &ComponentId,
        request: &BrowseRequest,
        result: Result<Browsed, String>,
    ) -> Effect {
        match result {
            Ok(page) => {
                if pager::arrived(&mut self.browse, id, request, page) {
                    self.refresh(ctx);
                }
                Effect::None
            }
            Err(e) => {
                if let Some(s) = self.browse.as_mut() {
                    s.loading = false;
                }
                Effect::Flash(crate::sanitize::sanitize(&e).into_owned(), Level::Warn)
            }
        }
    }

    /// The browsed page read again, after an action may have changed it.
    pub fn browse_again(&mut self) -> Option<Effect> {
        pager::again(&mut self.browse).map(|(id, request)| Effect::Browse(id, request))
    }

    /// Leaves a browsed page for the poll's first page; false when none was browsed.
    pub fn leave_page(&mut self, ctx: &Ctx<'_>) -> bool {
        if self.browse.take().is_none() {
            return false;
        }
        self.refresh(ctx);
        true
    }

    fn reveal(&self, ctx: &Ctx<'_>) -> Effect {
        let (Some(id), Some((table, key))) = (shown(ctx), self.selected_row()) else {
            return Effect::Flash(
                "select a row in a detail view to reveal its private content".into(),
                Level::Unknown,
            );
        };
        let content = self
            .reading_shown(ctx, id)
            .and_then(|r| r.private(&table, &key));
        Effect::Reveal {
            component: id.to_string(),
            table,
            key,
            content,
        }
    }

    fn class_prompt(&self, ctx: &Ctx<'_>) -> Effect {
        match self.browsable(ctx) {
            Some(_) if ctx.demo.is_some() => Effect::Flash(
                "the demo has no Redis behind it: class filters read a real Sidekiq's sets".into(),
                Level::Unknown,
            ),
            Some((_, Browsable::Set(_))) => Effect::Prompt(PromptKind::ClassFilter),
            _ => Effect::Flash(
                "focus a Sidekiq retry, scheduled or dead table to filter it by class".into(),
                Level::Unknown,
            ),
        }
    }

    fn focused_table(&mut self, command: Command) -> bool {
        let Some(state) = &mut self.state else {
            return false;
        };
        let (Some(data), Some(view)) = (
            rows::detail::tables(&state.detail).nth(state.focus),
            state.tables.get_mut(state.focus),
        ) else {
            return false;
        };
        view.command(command, data)
    }
}

impl Component for DetailScreen {
    fn key(&mut self, command: Command, ctx: &Ctx<'_>) -> Effect {
        match command {
            Command::NextPane | Command::PrevPane => {
                if let Some(state) = &mut self.state
                    && !state.tables.is_empty()
                {
                    let n = state.tables.len();
                    state.focus = if command == Command::NextPane {
                        (state.focus + 1) % n
                    } else {
                        (state.focus + n - 1) % n
                    };
                }
                Effect::None
            }
            Command::NextPage => self.page(ctx, Step::Next),
            Command::PrevPage => self.page(ctx, Step::Previous),
            Command::ClassFilter => self.class_prompt(ctx),
            Command::Reveal => self.reveal(ctx),
            Command::Select => Effect::None,
            other if self.focused_table(other) => Effect::None,
            _ => Effect::Unhandled,
        }
    }

    fn draw(&self, frame: &mut Frame<'_>, area: Rect, ctx: &Ctx<'_>) {
        if let Some(id) = shown(ctx) {
            crate::tui::views::detail::draw(frame, area, self, ctx, id);
        }
    }
}

impl Screen for DetailScreen {
    fn refresh(&mut self, ctx: &Ctx<'_>) {
        let Some(id) = shown(ctx) else {
            return;
        };
        let detail = self
            .reading_shown(ctx, id)
            .map(|r| r.detail())
            .unwrap_or_default();
        let state = self.state.get_or_insert_with(|| DetailState {
            id: id.clone(),
            detail: Detail::default(),
            tables: Vec::new(),
            focus: 0,
        });
        let tables: Vec<&TableData> = rows::detail::tables(&detail).collect();
        state.tables.resize_with(tables.len(), TableView::default);
        for (view, data) in state.tables.iter_mut().zip(tables) {
            view.refresh(data);
        }
        state.focus = state.focus.min(state.tables.len().saturating_sub(1));
        state.detail = detail;
    }

    fn filter_mut(&mut self) -> Option<&mut String> {
        self.state
            .as_mut()
            .and_then(|d| d.tables.get_mut(d.focus))
            .map(|t| &mut t.filter)
    }

    fn filter(&self) -> &str {
        self.state
            .as_ref()
            .and_then(|d| d.focused())
            .map_or("", |(t, _)| t.filter.as_str())
    }

    fn selected_component(&self, ctx: &Ctx<'_>) -> Option<ComponentId> {
        shown(ctx).cloned()
    }

    fn hints(&self, ctx: &Ctx<'_>) -> &'static [Hint] {
        let several_tables = self.state.as_ref().is_some_and(|d| d.tables.len() > 1);
        if several_tables && self.browsable(ctx).is_some() {
            &[
                (Command::Help, "help"),
                (Command::NextPane, "next table"),
                (Command::NextPage, "next page"),
                (Command::PrevPage, "prev page"),
                (Command::ClassFilter, "class"),
                (Command::Actions, "actions"),
                (Command::Reveal, "reveal"),
                (Command::Back, "back"),
                (Command::Quit, "quit"),
            ]
        } else if several_tables {
            &[
                (Command::Help, "help"),
                (Command::NextPane, "next table"),
                (Command::Actions, "actions"),
                (Command::Reveal, "reveal"),
                (Command::Filter, "filter"),
                (Command::SortNext, "sort"),
                (Command::Back, "back"),
                (Command::Quit, "quit"),
            ]
        } else {
            &[
                (Command::Help, "help"),
                (Command::Actions, "actions"),
                (Command::Filter, "filter"),
                (Command::SortNext, "sort"),
                (Command::Back, "back"),
                (Command::Quit, "quit"),
            ]
        }
    }
}
