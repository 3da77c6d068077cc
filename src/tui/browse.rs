//! Paging through a Sidekiq component's retry, scheduled and dead sets (optionally one
//! class) and its busy jobs, from the detail view. The console only keeps which page is
//! wanted and the page that came back; the read runs in the background
//! ([`crate::sources::sidekiq::Browser`]) and the page is drawn in place of the poll's
//! first page, with the same redaction, reveal and row actions.

use std::sync::Arc;

use crate::model::{ComponentId, Reading};
use crate::sources::sidekiq::browse::{BrowseRequest, Browsed, PAGE, SetName};
use crate::sources::sidekiq::{Layout, SidekiqReading};

/// Which table of the detail view is being paged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Browsable {
    Set(SetName),
    Busy,
}

impl Browsable {
    /// The table a detail section title names, if it can be paged.
    pub fn from_title(title: &str) -> Option<Browsable> {
        if let Some(set) = SetName::from_title(title) {
            return Some(Browsable::Set(set));
        }
        (title.split_whitespace().next() == Some("Busy")).then_some(Browsable::Busy)
    }
}

/// The page wanted on one component, and the last page that came back.
#[derive(Clone, Debug, PartialEq)]
pub struct BrowseState {
    pub component: ComponentId,
    pub table: Browsable,
    pub request: BrowseRequest,
    pub result: Option<Browsed>,
    /// Start ranks of the earlier pages of a class filter, to go back to them.
    starts: Vec<u64>,
    pub loading: bool,
}

/// What a key asks of the pager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Next,
    Previous,
}

/// A page a key asked for: the component to read and what to read.
pub type Wanted = (ComponentId, BrowseRequest);

fn sidekiq(reading: &dyn Reading) -> Option<&SidekiqReading> {
    reading.as_any().downcast_ref::<SidekiqReading>()
}

/// The reading a detail view shows: the poll's, with the browsed page in place when one
/// is for this component.
pub fn apply(
    id: &ComponentId,
    reading: &Arc<dyn Reading>,
    state: Option<&BrowseState>,
) -> Arc<dyn Reading> {
    let browsed = state
        .filter(|s| s.component == *id)
        .and_then(|s| s.result.as_ref());
    match (browsed, sidekiq(reading.as_ref())) {
        (Some(b), Some(r)) => Arc::new(r.with_browsed(b)),
        _ => Arc::clone(reading),
    }
}

fn busy_request(r: &SidekiqReading, page: usize) -> BrowseRequest {
    BrowseRequest::Busy {
        page,
        identities: r.live_identities(),
        suffixes: Layout::from_description(&r.layout).work_suffixes().to_vec(),
    }
}

/// The total and the current position of what is on screen for `table`.
fn position(state: Option<&BrowseState>, table: Browsable, r: &SidekiqReading) -> (usize, u64) {
    match state.and_then(|s| s.result.as_ref()) {
        Some(Browsed::Set(b)) if table == Browsable::Set(b.set.unwrap_or(SetName::Retry)) => {
            (b.view.page, b.total)
        }
        Some(Browsed::Busy(b)) if table == Browsable::Busy => (b.page, b.total),
        _ => {
            let total = match table {
                Browsable::Set(SetName::Retry) => r.retries,
                Browsable::Set(SetName::Scheduled) => r.scheduled,
                Browsable::Set(SetName::Dead) => r.dead,
                Browsable::Busy => r.busy,
            };
            (0, total)
        }
    }
}

/// The next or previous page of the focused table, or why there is none.
pub fn step(
    state: &mut Option<BrowseState>,
    id: &ComponentId,
    table: Browsable,
    reading: &dyn Reading,
    step: Step,
) -> Result<Wanted, String> {
    let r = sidekiq(reading).ok_or("only Sidekiq's sets and busy jobs can be paged")?;
    let current = state
        .as_ref()
        .filter(|s| s.component == *id && s.table == table);
    let class_view = current.and_then(|s| match &s.result {
        Some(Browsed::Set(b)) if b.view.class.is_some() => Some(b.view.clone()),
        _ => None,
    });
    let (page, total) = position(current, table, r);
    let mut starts = current.map(|s| s.starts.clone()).unwrap_or_default();
    let request = match (table, class_view, step) {
        (Browsable::Set(set), Some(view), Step::Next) => {
            if view.next >= total {
                return Err("no more matches: the whole set was scanned".into());
            }
            starts.push(view.from);
            BrowseRequest::Set {
                set,
                page: page + 1,
                from: view.next,
                class: view.class,
            }
        }
        (Browsable::Set(set), Some(view), Step::Previous) => {
            let from = starts.pop().ok_or("already on the first page")?;
            BrowseRequest::Set {
                set,
                page: page.saturating_sub(1),
                from,
                class: view.class,
            }
        }
        (_, _, Step::Previous) if page == 0 => return Err("already on the first page".into()),
        (_, _, Step::Next) if ((page + 1) * PAGE) as u64 >= total => {
            return Err(format!("already on the last page ({total} in all)"));
        }
        (Browsable::Set(set), None, step) => {
            let page = if step == Step::Next {
                page + 1
            } else {
                page - 1
            };
            BrowseRequest::Set {
                set,
                page,
                from: (page * PAGE) as u64,
                class: None,
            }
        }
        (Browsable::Busy, _, step) => {
            let page = if step == Step::Next {
                page + 1
            } else {
                page - 1
            };
            busy_request(r, page)
        }
    };
    Ok(want(state, id, table, request, starts))
}

/// The first page of `set` holding only `class` (or, with an empty class, the plain first
/// page again).
pub fn filter_class(
    state: &mut Option<BrowseState>,
    id: &ComponentId,
    set: SetName,
    class: &str,
) -> Option<Wanted> {
    let class = class.trim();
    if class.is_empty() {
        *state = None;
        return None;
    }
    let request = BrowseRequest::Set {
        set,
        page: 0,
        from: 0,
        class: Some(class.to_string()),
    };
    Some(want(state, id, Browsable::Set(set), request, Vec::new()))
}

fn want(
    state: &mut Option<BrowseState>,
    id: &ComponentId,
    table: Browsable,
    request: BrowseRequest,
    starts: Vec<u64>,
) -> Wanted {
    let keep = state
        .as_ref()
        .filter(|s| s.component == *id && s.table == table)
        .and_then(|s| s.result.clone());
    *state = Some(BrowseState {
        component: id.clone(),
        table,
        request: request.clone(),
        result: keep,
        starts,
        loading: true,
    });
    (id.clone(), request)
}

/// The same page again (after an action changed the set).
pub fn again(state: &mut Option<BrowseState>) -> Option<Wanted> {
    let s = state.as_mut()?;
    s.loading = true;
    Some((s.component.clone(), s.request.clone()))
}

/// A page came back: kept if it is still the one wanted.
pub fn arrived(
    state: &mut Option<BrowseState>,
    id: &ComponentId,
    request: &BrowseRequest,
    result: Browsed,
) -> bool {
    match state.as_mut() {
        Some(s) if s.component == *id && s.request == *request => {
            s.result = Some(result);
            s.loading = false;
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sidekiq::browse::{PageView, SetBrowse};

    fn reading(retries: u64) -> SidekiqReading {
        SidekiqReading {
            retries,
            ..SidekiqReading::default()
        }
    }

    fn id() -> ComponentId {
        ComponentId::new("sidekiq", "main")
    }

    #[test]
    fn plain_pages_step_by_a_page_and_stop_at_the_ends() {
        let mut state = None;
        let r = reading(120);
        let table = Browsable::Set(SetName::Retry);
        assert!(step(&mut state, &id(), table, &r, Step::Previous).is_err());
        let (_, req) = step(&mut state, &id(), table, &r, Step::Next).expect("page 2");
        assert_eq!(
            req,
            BrowseRequest::Set {
                set: SetName::Retry,
                page: 1,
                from: 50,
                class: None
            }
        );
        let page = |page: usize, from: u64| {
            Browsed::Set(SetBrowse {
                set: Some(SetName::Retry),
                total: 120,
                view: PageView {
                    page,
                    from,
                    next: from + 50,
                    class: None,
                },
                ..SetBrowse::default()
            })
        };
        assert!(arrived(&mut state, &id(), &req, page(1, 50)));
        let (_, req) = step(&mut state, &id(), table, &r, Step::Next).expect("page 3");
        assert!(arrived(&mut state, &id(), &req, page(2, 100)));
        let err = step(&mut state, &id(), table, &r, Step::Next).expect_err("no page 4");
        assert!(err.contains("last page"), "{err}");
        let (_, req) = step(&mut state, &id(), table, &r, Step::Previous).expect("page 2");
        assert!(matches!(
            req,
            BrowseRequest::Set {
                page: 1,
                from: 50,
                ..
            }
        ));
    }

    #[test]
    fn class_pages_go_on_from_where_the_scan_stopped_and_come_back() {
        let mut state = None;
        let r = reading(12_000);
        let table = Browsable::Set(SetName::Dead);
        let (_, req) = filter_class(&mut state, &id(), SetName::Dead, " Mailer ").expect("asked");
        assert!(
            matches!(&req, BrowseRequest::Set { from: 0, class: Some(c), .. } if c == "Mailer")
        );
        let found = |page: usize, from: u64, next: u64| {
            Browsed::Set(SetBrowse {
                set: Some(SetName::Dead),
                total: 12_000,
                view: PageView {
                    page,
                    from,
                    next,
                    class: Some("Mailer".into()),
                },
                ..SetBrowse::default()
            })
        };
        assert!(arrived(&mut state, &id(), &req, found(0, 0, 500)));
        let (_, req) = step(&mut state, &id(), table, &r, Step::Next).expect("more");
        assert!(matches!(
            req,
            BrowseRequest::Set {
                page: 1,
                from: 500,
                ..
            }
        ));
        assert!(arrived(&mut state, &id(), &req, found(1, 500, 730)));
        let (_, req) = step(&mut state, &id(), table, &r, Step::Previous).expect("back");
        assert!(matches!(
            req,
            BrowseRequest::Set {
                page: 0,
                from: 0,
                ..
            }
        ));
        assert!(filter_class(&mut state, &id(), SetName::Dead, "  ").is_none());
        assert_eq!(
            state, None,
            "an empty class goes back to the poll's first page"
        );
    }

    #[test]
    fn a_stale_answer_is_dropped() {
        let mut state = None;
        let (_, first) = filter_class(&mut state, &id(), SetName::Retry, "A").expect("asked");
        let _ = filter_class(&mut state, &id(), SetName::Retry, "B");
        assert!(!arrived(
            &mut state,
            &id(),
            &first,
            Browsed::Set(SetBrowse::default())
        ));
    }

    #[test]
    fn tables_are_told_apart_by_title() {
        assert_eq!(
            Browsable::from_title("Busy (page 2 of 3 · 51–100 of 120)"),
            Some(Browsable::Busy)
        );
        assert_eq!(
            Browsable::from_title("Scheduled (first 3 of 3)"),
            Some(Browsable::Set(SetName::Scheduled))
        );
        assert_eq!(Browsable::from_title("Queues"), None);
    }
}
