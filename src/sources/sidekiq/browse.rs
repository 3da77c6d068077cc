//! Paging through the retry, scheduled and dead sets and the busy jobs, on request, off
//! the poll path. Every request is bounded whatever the size of the set:
//!
//! - **a page of a set**: 1 round trip, 2 commands: `ZCARD set` and `ZRANGE set a b
//!   WITHSCORES` (`ZREVRANGE` for dead, newest first, as Sidekiq's Web UI lists them), one
//!   page wide: O(log n + page).
//! - **a page of one class**: the same 2 commands, but the window is [`FILTER_WINDOW`]
//!   members wide: the matches in it make the page, and when it runs out before the page is
//!   full the answer says how far it got ("scanned N of M") and the next request goes on
//!   from there. Windowed ZRANGEs keep Sidekiq's order, which ZSCAN would not.
//! - **a page of busy jobs**: 2 round trips: `HLEN` of each live process's work hash, then
//!   `HGETALL` of only the hashes the page falls in (a work hash holds at most the process's
//!   concurrency, 25 on Mastodon).
//!
//! Members are decoded exactly as the poll decodes them (arguments and error messages stay
//! private), so a browsed page is drawn, revealed and acted on like the first page.

use redis::aio::MultiplexedConnection;
use redis::{RedisError, Value};
use serde::{Deserialize, Serialize};

use super::fetch::{self, Keys, Problems};
use super::jobs::{BusyJob, SetEntry};

/// Rows per page, the same as the first page the poll reads.
pub const PAGE: usize = fetch::SET_PAGE as usize;
/// Most members one class-filtered request examines.
pub const FILTER_WINDOW: usize = 500;
/// Most processes whose work hashes one busy page looks at.
pub const MAX_BUSY_PROCESSES: usize = fetch::MAX_PROCESSES;

/// One of Sidekiq's three sorted sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetName {
    Retry,
    Scheduled,
    Dead,
}

impl SetName {
    pub const ALL: [SetName; 3] = [SetName::Retry, SetName::Scheduled, SetName::Dead];

    /// The Redis key, without the namespace.
    pub fn key(self) -> &'static str {
        match self {
            SetName::Retry => "retry",
            SetName::Scheduled => "schedule",
            SetName::Dead => "dead",
        }
    }

    /// The first word of the set's table title in the detail view.
    pub fn title(self) -> &'static str {
        match self {
            SetName::Retry => "Retries",
            SetName::Scheduled => "Scheduled",
            SetName::Dead => "Dead",
        }
    }

    pub fn from_key(key: &str) -> Option<SetName> {
        SetName::ALL.into_iter().find(|s| s.key() == key)
    }

    /// The set a detail table shows, by the first word of its title.
    pub fn from_title(title: &str) -> Option<SetName> {
        let first = title.split_whitespace().next()?;
        SetName::ALL.into_iter().find(|s| s.title() == first)
    }

    /// The dead set is listed newest first, the others soonest first.
    pub fn newest_first(self) -> bool {
        self == SetName::Dead
    }
}

/// What the operator asked to see.
#[derive(Clone, Debug, PartialEq)]
pub enum BrowseRequest {
    /// The page of `set` starting at rank `from`; `page` is its ordinal (0-based) for the
    /// title. With `class`, only jobs whose class contains it (any case), examined from
    /// `from` on.
    Set {
        set: SetName,
        page: usize,
        from: u64,
        class: Option<String>,
    },
    /// Page `page` (0-based) of the running jobs of these processes, sorted by identity
    /// then thread. `suffixes` are the work-hash suffixes of the layout.
    Busy {
        page: usize,
        identities: Vec<String>,
        suffixes: Vec<&'static str>,
    },
}

/// A window of a set as one request read it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetWindow {
    /// `ZCARD` at the time of the request.
    pub total: u64,
    /// Rank of the first member examined.
    pub from: u64,
    /// The members read, in the set's listing order.
    pub entries: Vec<SetEntry>,
    pub problems: Vec<String>,
}

/// A page of a set, ready to be drawn in place of the poll's first page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    pub page: usize,
    /// Rank of the first member examined for this page.
    pub from: u64,
    /// Rank after the last member examined: where the next page starts.
    pub next: u64,
    /// The class filter, if any.
    pub class: Option<String>,
}

impl PageView {
    /// Whether a filtered request stopped at its window before filling the page.
    pub fn scan_cut_short(&self, found: usize, total: u64) -> bool {
        self.class.is_some() && found < PAGE && self.next < total
    }
}

/// A browsed page of a set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetBrowse {
    pub set: Option<SetName>,
    pub total: u64,
    pub entries: Vec<SetEntry>,
    pub view: PageView,
    pub problems: Vec<String>,
}

/// A browsed page of busy jobs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BusyPage {
    pub page: usize,
    /// Running jobs across the processes looked at.
    pub total: u64,
    pub jobs: Vec<BusyJob>,
    #[serde(skip)]
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Browsed {
    Set(SetBrowse),
    Busy(BusyPage),
}

/// Whether a job's class (the wrapped ActiveJob class when there is one) contains `filter`,
/// ignoring case. Unreadable members never match a class.
pub fn class_contains(entry: &SetEntry, filter: &str) -> bool {
    !entry.unreadable && entry.class.to_lowercase().contains(&filter.to_lowercase())
}

/// The first `want` entries that `keep`, and how many entries were examined to find them
/// (all of them when fewer match): the next search starts that many ranks further on.
pub fn take_matching(
    entries: &[SetEntry],
    want: usize,
    keep: impl Fn(&SetEntry) -> bool,
) -> (Vec<&SetEntry>, usize) {
    let mut taken = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if taken.len() == want {
            return (taken, i);
        }
        if keep(e) {
            taken.push(e);
        }
    }
    (taken, entries.len())
}

/// `count` members of `set` from rank `from`, in its listing order, and its size: one
/// round trip of `ZCARD` and one `ZRANGE`/`ZREVRANGE … WITHSCORES`.
pub async fn set_window(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    set: SetName,
    from: u64,
    count: usize,
) -> Result<SetWindow, RedisError> {
    let key = keys.key(set.key());
    let last = from.saturating_add(count.max(1) as u64 - 1);
    let mut pipe = redis::pipe();
    pipe.zcard(&key)
        .cmd(if set.newest_first() {
            "ZREVRANGE"
        } else {
            "ZRANGE"
        })
        .arg(&key)
        .arg(from)
        .arg(last)
        .arg("WITHSCORES");
    let answers = fetch::run(&mut pipe, connection).await?;
    let mut problems = Problems::default();
    let at = |i: usize| answers.get(i).unwrap_or(&Value::Nil);
    problems.check(&key, at(0));
    problems.check(&key, at(1));
    let total = fetch::int(at(0))
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    let (entries, _) = fetch::set_entries(set.key(), at(1), &mut problems);
    Ok(SetWindow {
        total,
        from,
        entries,
        problems: problems.into_lines(),
    })
}

/// One page of a set, all members or one class's.
pub async fn set_page(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    set: SetName,
    page: usize,
    from: u64,
    class: Option<&str>,
) -> Result<SetBrowse, RedisError> {
    let Some(class) = class.filter(|c| !c.is_empty()) else {
        let window = set_window(connection, keys, set, from, PAGE).await?;
        let next = from + window.entries.len() as u64;
        return Ok(SetBrowse {
            set: Some(set),
            total: window.total,
            entries: window.entries,
            view: PageView {
                page,
                from,
                next,
                class: None,
            },
            problems: window.problems,
        });
    };
    let window = set_window(connection, keys, set, from, FILTER_WINDOW).await?;
    let (taken, examined) = take_matching(&window.entries, PAGE, |e| class_contains(e, class));
    Ok(SetBrowse {
        set: Some(set),
        total: window.total,
        entries: taken.into_iter().cloned().collect(),
        view: PageView {
            page,
            from,
            next: from + examined as u64,
            class: Some(class.to_string()),
        },
        problems: window.problems,
    })
}

/// Page `page` of the busy jobs of `identities` (sorted by identity, then thread): `HLEN`
/// of every work hash, then `HGETALL` of those the page falls in. Two round trips.
pub async fn busy_page(
    connection: &mut MultiplexedConnection,
    keys: &Keys,
    identities: &[String],
    suffixes: &[&str],
    page: usize,
    now: f64,
) -> Result<BusyPage, RedisError> {
    let mut identities: Vec<&String> = identities.iter().collect();
    identities.sort();
    identities.dedup();
    identities.truncate(MAX_BUSY_PROCESSES);
    let hashes: Vec<(&str, String)> = identities
        .iter()
        .flat_map(|id| {
            suffixes
                .iter()
                .map(move |s| (id.as_str(), keys.key(&format!("{id}{s}"))))
        })
        .collect();
    let mut problems = Problems::default();
    let mut pipe = redis::pipe();
    for (_, key) in &hashes {
        pipe.hlen(key);
    }
    let answers = fetch::run(&mut pipe, connection).await?;
    let lens: Vec<u64> = hashes
        .iter()
        .zip(answers.iter().chain(std::iter::repeat(&Value::Nil)))
        .map(|((_, key), v)| {
            problems.check(key, v);
            fetch::int(v)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        })
        .collect();
    let total: u64 = lens.iter().sum();
    let start = (page * PAGE) as u64;
    let end = start + PAGE as u64;

    // The hashes overlapping [start, end), and where each starts in the whole listing.
    let mut wanted = Vec::new();
    let mut offset = 0u64;
    for ((id, key), len) in hashes.iter().zip(&lens) {
        if *len > 0 && offset < end && offset + len > start {
            wanted.push((*id, key, offset));
        }
        offset += len;
    }
    let mut jobs = Vec::new();
    if !wanted.is_empty() {
        let mut pipe = redis::pipe();
        for (_, key, _) in &wanted {
            pipe.hgetall(*key);
        }
        let answers = fetch::run(&mut pipe, connection).await?;
        for ((id, key, offset), answer) in wanted.iter().zip(&answers) {
            problems.check(key, answer);
            let mut pairs = fetch::hash_pairs(answer);
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            for (i, (thread, value)) in pairs.into_iter().enumerate() {
                let rank = offset + i as u64;
                if rank < start || rank >= end {
                    continue;
                }
                let (job, _) = fetch::busy_job(id, thread, value, now, &mut problems);
                jobs.push(job);
            }
        }
    }
    Ok(BusyPage {
        page,
        total,
        jobs,
        problems: problems.into_lines(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(class: &str) -> SetEntry {
        SetEntry {
            class: class.into(),
            ..SetEntry::default()
        }
    }

    #[test]
    fn matching_stops_at_the_page_and_says_how_far_it_looked() {
        let entries: Vec<SetEntry> = ["A", "Mailer", "B", "mailer2", "Mailer", "C"]
            .into_iter()
            .map(entry)
            .collect();
        let (taken, examined) = take_matching(&entries, 2, |e| class_contains(e, "MAILER"));
        assert_eq!(taken.len(), 2);
        assert_eq!(examined, 4, "stops right after the second match");
        let (taken, examined) = take_matching(&entries, 10, |e| class_contains(e, "mailer"));
        assert_eq!((taken.len(), examined), (3, 6));
        let (taken, examined) = take_matching(&entries, 3, |e| class_contains(e, "mailer"));
        assert_eq!((taken.len(), examined), (3, 5));
    }

    #[test]
    fn unreadable_members_match_no_class() {
        let mut e = entry("");
        e.unreadable = true;
        assert!(!class_contains(&e, ""));
        assert!(class_contains(&entry("FlakyJob"), "flaky"));
    }

    #[test]
    fn sets_are_named_by_key_and_by_title() {
        assert_eq!(
            SetName::from_title("Retries (page 2 of 9)"),
            Some(SetName::Retry)
        );
        assert_eq!(SetName::from_title("Dead"), Some(SetName::Dead));
        assert_eq!(SetName::from_title("Busy"), None);
        assert_eq!(SetName::from_key("schedule"), Some(SetName::Scheduled));
        assert!(SetName::Dead.newest_first() && !SetName::Retry.newest_first());
    }

    #[test]
    fn a_short_filtered_page_is_cut_by_its_window() {
        let v = PageView {
            page: 0,
            from: 0,
            next: 500,
            class: Some("X".into()),
        };
        assert!(v.scan_cut_short(3, 12_000));
        assert!(!v.scan_cut_short(PAGE, 12_000));
        assert!(!v.scan_cut_short(3, 500));
    }
}
