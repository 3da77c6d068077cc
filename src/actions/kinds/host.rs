//! Host actions, offered on a row of the host's systemd units table:
//!
//! | kind | risk | precondition | what runs |
//! |---|---|---|---|
//! | `host.reload_unit` | high on production | nginx on an edge: `nginx -t`; else the unit is still loaded | `systemctl reload -- UNIT` |
//! | `host.restart_unit` | high on production | the same | `systemctl restart -- UNIT` |
//!
//! Reload comes first because it is the gentle one: Mastodon's web unit reloads as a phased
//! Puma restart, nginx reloads without dropping connections. The unit name travels as one
//! argument after `--`, so it can never be read as an option or as shell syntax.

use std::time::Duration;

use crate::actions::Action;
use crate::actions::action::{Check, Operation, Risk, Target};
use crate::actions::catalog::Selected;
use crate::config::is_unit_name;
use crate::model::Reading;
use crate::sources::host::{HostReading, UNITS_TABLE};

const COOLDOWN: Duration = Duration::from_secs(30);
const RELOAD_DEADLINE: Duration = Duration::from_secs(30);
/// A restart waits for the unit to stop (Sidekiq's TimeoutSec is 15 s, Puma drains) and start.
const RESTART_DEADLINE: Duration = Duration::from_secs(90);

pub fn offer(
    component: &str,
    reading: &dyn Reading,
    selected: Option<Selected<'_>>,
) -> Vec<Action> {
    let Some(host) = reading.as_any().downcast_ref::<HostReading>() else {
        return Vec::new();
    };
    let Some(selected) = selected.filter(|s| s.table == UNITS_TABLE) else {
        return Vec::new();
    };
    let name = component.split_once('/').map_or(component, |(_, n)| n);
    let unit = selected.key;
    if !is_unit_name(unit) || unit.contains('*') {
        return Vec::new();
    }
    [("reload", RELOAD_DEADLINE), ("restart", RESTART_DEADLINE)]
        .into_iter()
        .map(|(verb, deadline)| unit_action(component, name, host, unit, verb, deadline))
        .collect()
}

fn unit_action(
    component: &str,
    host_name: &str,
    host: &HostReading,
    unit: &str,
    verb: &str,
    deadline: Duration,
) -> Action {
    let is_nginx = unit == "nginx.service" || unit == "nginx";
    let on_edge = host.roles.iter().any(|r| r.starts_with("edge"));
    let precondition = if is_nginx && on_edge {
        // A reload with a broken config fails on every worker at once; test it first.
        Check::Ssh {
            host: host_name.to_string(),
            argv: vec!["nginx".into(), "-t".into()],
            expect: None,
        }
    } else {
        Check::Ssh {
            host: host_name.to_string(),
            argv: [
                "systemctl",
                "show",
                "--property=LoadState",
                "--value",
                "--",
                unit,
            ]
            .map(String::from)
            .to_vec(),
            expect: Some("loaded".into()),
        }
    };
    let title = match verb {
        "reload" if is_nginx && on_edge => {
            format!("Test the nginx config, then reload nginx on {host_name}")
        }
        "reload" => format!("Reload {unit} on {host_name}"),
        _ => format!("Restart {unit} on {host_name}"),
    };
    Action {
        kind: format!("host.{verb}_unit"),
        title,
        target: Target {
            component: component.to_string(),
            object: unit.to_string(),
            name: host_name.to_string(),
            identity: None,
        },
        risk: if host.production {
            Risk::High
        } else {
            Risk::Low
        },
        operations: vec![Operation::Ssh {
            host: host_name.to_string(),
            argv: ["systemctl", verb, "--", unit].map(String::from).to_vec(),
        }],
        precondition: Some(precondition),
        cooldown: COOLDOWN,
        deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::host::sample::{Sample, reading};

    fn host(roles: &[&str], production: bool) -> HostReading {
        let mut r = reading(None, &Sample::default(), &[], &Default::default());
        r.roles = roles.iter().map(|s| s.to_string()).collect();
        r.production = production;
        r
    }

    fn on(unit: &str) -> Option<Selected<'_>> {
        Some(Selected {
            table: UNITS_TABLE,
            key: unit,
        })
    }

    #[test]
    fn reload_and_restart_a_unit_as_argv_with_typed_confirmation_on_production() {
        let actions = offer(
            "host/web-1",
            &host(&["mastodon-web"], true),
            on("mastodon-web.service"),
        );
        let kinds: Vec<&str> = actions.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(kinds, ["host.reload_unit", "host.restart_unit"]);
        let reload = &actions[0];
        assert_eq!(reload.risk, Risk::High);
        assert_eq!(reload.target.name, "web-1");
        assert_eq!(
            reload.operations,
            [Operation::Ssh {
                host: "web-1".into(),
                argv: ["systemctl", "reload", "--", "mastodon-web.service"]
                    .map(String::from)
                    .to_vec()
            }]
        );
        assert!(matches!(
            &reload.precondition,
            Some(Check::Ssh { expect: Some(e), .. }) if e == "loaded"
        ));
        let staging = offer(
            "host/web-1",
            &host(&["mastodon-web"], false),
            on("mastodon-web.service"),
        );
        assert_eq!(staging[0].risk, Risk::Low);
    }

    #[test]
    fn nginx_on_an_edge_is_tested_before_it_is_reloaded() {
        let actions = offer(
            "host/cdn-1",
            &host(&["edge-cdn"], true),
            on("nginx.service"),
        );
        assert_eq!(
            actions[0].precondition,
            Some(Check::Ssh {
                host: "cdn-1".into(),
                argv: vec!["nginx".into(), "-t".into()],
                expect: None
            })
        );
        assert!(actions[0].title.starts_with("Test the nginx config"));
    }

    #[test]
    fn nothing_is_offered_off_the_units_table_or_for_odd_names() {
        let h = host(&[], true);
        assert!(offer("host/h", &h, None).is_empty());
        let elsewhere = Some(Selected {
            table: "Filesystems",
            key: "/",
        });
        assert!(offer("host/h", &h, elsewhere).is_empty());
        assert!(offer("host/h", &h, on("mastodon-sidekiq*.service")).is_empty());
        assert!(offer("host/h", &h, on("x; reboot")).is_empty());
        assert!(offer("host/h", &h, on("--force")).is_empty());
    }
}
