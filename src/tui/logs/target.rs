//! Whose log a view shows: `:logs HOST[,HOST…] UNIT [WINDOW]`, `:logs role:NAME UNIT`, or what the
//! selected row stands for (a host, one of its units, a component that runs as units).

use crate::logs::query::{UnitPattern, Window};
use crate::model::{ComponentId, Fleet};

/// The hosts and units of one log view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTarget {
    /// Hosts' names joined by `,`, or `role:NAME` for every host with that role.
    pub hosts: String,
    pub units: Vec<UnitPattern>,
    pub window: Window,
}

impl LogTarget {
    /// How the view's title names it.
    pub fn describe(&self) -> String {
        let units: Vec<&str> = self.units.iter().map(UnitPattern::as_str).collect();
        crate::sanitize::sanitize(&format!("{} · {}", self.hosts, units.join(" "))).into_owned()
    }
}

const USAGE: &str = "usage: :logs HOST[,HOST…] UNIT[,UNIT…] [WINDOW] or :logs role:NAME UNIT [WINDOW] (WINDOW: tail, 1m, 5m, 15m, 1h)";

/// The words after `:logs`.
pub fn parse(words: &[&str]) -> Result<LogTarget, String> {
    let (hosts, units, window) = match words {
        [hosts, unit] => (*hosts, *unit, None),
        [hosts, unit, window] => (*hosts, *unit, Some(*window)),
        _ => return Err(USAGE.into()),
    };
    let shown = crate::sanitize::sanitize_truncated(hosts, 60);
    let name = hosts.strip_prefix("role:").unwrap_or(hosts);
    let plain = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,".contains(c));
    if !plain {
        return Err(format!(
            "`{shown}` is not a host or role:NAME: letters, digits and `-_.,` only ({USAGE})"
        ));
    }
    let units = units
        .split(',')
        .map(UnitPattern::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let window = match window {
        Some(w) => Window::parse(w)?,
        None => Window::Last(std::time::Duration::from_secs(15 * 60)),
    };
    Ok(LogTarget {
        hosts: hosts.to_string(),
        units,
        window,
    })
}

/// The units a kind of component runs as, and the role of the hosts that run it.
fn units_of_kind(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "web" => ("mastodon-web", "mastodon-web*"),
        "streaming" => ("mastodon-streaming", "mastodon-streaming*"),
        "sidekiq" => ("mastodon-sidekiq", "mastodon-sidekiq*"),
        "postgres" => ("postgres-primary", "postgresql*"),
        "pgbouncer" => ("pgbouncer", "pgbouncer*"),
        "redis" => ("redis", "redis*"),
        "elasticsearch" => ("elasticsearch", "elasticsearch*"),
        "edge" => ("edge", "nginx*"),
        _ => return None,
    })
}

/// What `l` opens for the selected component and, in a detail view, the selected row: a
/// host's Mastodon units, the unit on the row, or a component's units on its role's hosts.
pub fn for_selection(
    fleet: &Fleet,
    component: Option<&ComponentId>,
    row: Option<(&str, &str)>,
) -> Result<LogTarget, String> {
    let Some(id) = component else {
        return Err(
            "select a host, a unit or a component to read its logs (or :logs HOST UNIT)".into(),
        );
    };
    let kind = fleet.get(id).map_or("", |c| c.meta.kind);
    let window = Window::Last(std::time::Duration::from_secs(15 * 60));
    let pattern = |text: &str| UnitPattern::parse(text);
    if kind == crate::sources::host::KIND {
        let unit = match row {
            Some((table, key)) if table.starts_with(crate::sources::host::UNITS_TABLE) => key,
            _ => "mastodon-*",
        };
        return Ok(LogTarget {
            hosts: id.name().to_string(),
            units: vec![pattern(unit)?],
            window,
        });
    }
    match units_of_kind(kind) {
        Some((role, units)) => Ok(LogTarget {
            hosts: format!("role:{role}"),
            units: vec![pattern(units)?],
            window,
        }),
        None => Err(format!(
            "{id} runs as no unit mastop knows: use :logs HOST UNIT",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_palette_takes_a_host_or_role_units_and_a_window() {
        let t = parse(&["web-1", "mastodon-web.service"]).unwrap();
        assert_eq!(t.hosts, "web-1");
        assert_eq!(t.window.label(), "15m");
        let t = parse(&["role:mastodon-sidekiq", "mastodon-sidekiq*,redis*", "1h"]).unwrap();
        assert_eq!(t.units.len(), 2);
        assert_eq!(t.window.label(), "1h");
        assert!(parse(&[]).unwrap_err().starts_with("usage"));
        assert!(parse(&["web-1"]).unwrap_err().starts_with("usage"));
        assert!(parse(&["web;1", "x"]).unwrap_err().contains("not a host"));
        assert!(parse(&["web-1", "--directory=/"]).is_err());
        assert!(
            parse(&["web-1", "nginx", "soon"])
                .unwrap_err()
                .contains("log window")
        );
    }
}
