//! Rules for values that appear in more than one place, written once so that a value is
//! judged the same wherever it is written: `[defaults] cadence` and a `[[redis]]` cadence,
//! a `[[postgres]]` name and an `[[edge]]` name.

use std::collections::HashSet;
use std::time::Duration;

use super::error::quote;
use super::locate::Seg;

/// A problem found in a loaded config: where (key path), what, and how to fix it.
pub(super) type Problem = (Vec<Seg>, String, Option<String>);

/// Polling a backend faster than this would load production.
pub(super) const MIN_CADENCE: Duration = Duration::from_millis(250);
/// A host's poll runs commands over SSH; faster than this costs more than it tells.
pub(super) const MIN_HOST_CADENCE: Duration = Duration::from_secs(1);
/// Longer than this between polls is a unit typo (`"2h"` for `"2s"`), not a schedule.
pub(super) const MAX_CADENCE: Duration = Duration::from_secs(24 * 3600);
pub(super) const MIN_DEADLINE: Duration = Duration::from_millis(50);
/// A poll that may take longer than this leaves a panel waiting for ever.
pub(super) const MAX_DEADLINE: Duration = Duration::from_secs(600);

/// Problems with a cadence and a deadline, at `at("cadence")` and `at("deadline")`.
pub(super) fn schedule(
    at: &dyn Fn(&str) -> Vec<Seg>,
    cadence: Option<Duration>,
    deadline: Option<Duration>,
    min_cadence: Duration,
    problems: &mut Vec<Problem>,
) {
    if let Some(c) = cadence {
        if c < min_cadence {
            let message = if min_cadence == MIN_HOST_CADENCE {
                "a host cadence under 1s costs the host more than it tells you".to_string()
            } else {
                format!(
                    "polling faster than every {} would load production",
                    humantime::format_duration(min_cadence)
                )
            };
            problems.push((
                at("cadence"),
                message,
                Some(if min_cadence == MIN_HOST_CADENCE {
                    "use 1s or more; 10s is typical".into()
                } else {
                    "use \"1s\" or more".into()
                }),
            ));
        } else if c > MAX_CADENCE {
            problems.push((
                at("cadence"),
                "a cadence over a day means the panel is never fresh".into(),
                Some("cadences are seconds or minutes, e.g. \"2s\" or \"1m\"".into()),
            ));
        }
    }
    if let Some(d) = deadline {
        if d < MIN_DEADLINE {
            problems.push((
                at("deadline"),
                "a deadline under 50ms fails on any real network".into(),
                Some("use e.g. \"1500ms\"; a poll that takes longer marks the source down".into()),
            ));
        } else if d > MAX_DEADLINE {
            problems.push((
                at("deadline"),
                "a deadline over 10 minutes leaves a dead backend looking alive".into(),
                Some("use a few seconds, e.g. \"1500ms\" or \"5s\"".into()),
            ));
        }
    }
}

/// A short name that is unique within its kind: letters, digits, `-`, `_` and `.`.
pub(super) fn name<'a>(
    kind: &str,
    name: &'a str,
    at: Vec<Seg>,
    seen: &mut HashSet<&'a str>,
    problems: &mut Vec<Problem>,
) {
    if !is_usable_name(name) {
        problems.push((
            at,
            format!("`{}` is not a usable name", quote(name)),
            Some("use letters, digits, `-`, `_` and `.`".into()),
        ));
    } else if !seen.insert(name) {
        problems.push((
            at,
            format!("another {kind} is already called `{name}`"),
            Some("names must be unique within a kind".into()),
        ));
    }
}

pub(super) fn is_usable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Free text shown on screen (a region, a tag): no control characters or escape sequences.
pub(super) fn plain_text(at: Vec<Seg>, value: &str, problems: &mut Vec<Problem>) {
    if crate::sanitize::sanitize(value) != value || value.chars().count() > 200 {
        problems.push((
            at,
            format!("`{}` holds control characters or is too long", quote(value)),
            Some("use plain text of at most 200 characters".into()),
        ));
    }
}

/// The name of a theme or keymap: it becomes part of a file name.
pub(super) fn file_stem(at: Vec<Seg>, what: &str, value: &str, problems: &mut Vec<Problem>) {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        problems.push((
            at,
            format!("`{}` is not a {what} name", quote(value)),
            Some(format!(
                "{what} names are letters, digits, `-` and `_`, e.g. `high-contrast`"
            )),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(k: &str) -> Vec<Seg> {
        vec![Seg::Key(k.into())]
    }

    #[test]
    fn one_schedule_rule_for_every_place() {
        let mut problems = Vec::new();
        schedule(
            &at,
            Some(Duration::ZERO),
            Some(Duration::ZERO),
            MIN_CADENCE,
            &mut problems,
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        problems.clear();
        schedule(
            &at,
            Some(Duration::from_millis(500)),
            Some(Duration::from_secs(1)),
            MIN_HOST_CADENCE,
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.clear();
        schedule(
            &at,
            Some(Duration::from_secs(2)),
            Some(Duration::from_millis(1500)),
            MIN_CADENCE,
            &mut problems,
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn names_are_quoted_safely() {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let evil = format!("a\u{1b}]0;x\u{7}{}", "b".repeat(10_000));
        name("redis", &evil, at("name"), &mut seen, &mut problems);
        let (_, message, _) = &problems[0];
        assert!(
            !message.contains('\u{1b}') && message.len() < 200,
            "{message:?}"
        );
    }
}
