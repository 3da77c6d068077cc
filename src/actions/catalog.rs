//! Which actions a component offers. Each backend contributes its own; the demo offers
//! simulated ones so a newcomer can feel every guard without touching anything real.

use std::time::Duration;

use super::action::{Action, Check, Operation, Risk, Target};
use crate::model::ComponentState;
use crate::sources::host::HostReading;
use crate::sources::sidekiq::SidekiqReading;

/// A row the operator selected in a component's detail view: which table, and the row's key
/// (a queue name, a job's `score-jid`, a backend's `pid:start`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Selected<'a> {
    pub table: &'a str,
    pub key: &'a str,
}

/// The actions on `component`, and on the selected row's object when there is one. Each
/// backend's actions are built in `actions::kinds`, from the component's latest reading.
pub fn for_component(
    component: &ComponentState,
    selected: Option<Selected<'_>>,
    demo: bool,
) -> Vec<Action> {
    if demo {
        return demo_actions(component);
    }
    let Some(reading) = component.reading.as_deref() else {
        return Vec::new();
    };
    super::kinds::offer(
        component.meta.id.as_str(),
        component.meta.kind,
        reading,
        selected,
    )
}

/// Every action kind the catalog can produce, for tests that must cover them all.
pub const DEMO_KINDS: &[&str] = &[
    "demo.reload_unit",
    "demo.restart_unit",
    "demo.nginx_reload",
    "demo.sidekiq_quiet",
    "demo.sidekiq_clear_dead",
    "demo.pg_cancel",
    "demo.pg_terminate",
];

fn simulated(description: String, takes_ms: u64) -> Operation {
    Operation::Simulated {
        description,
        takes_ms,
    }
}

fn action(kind: &str, title: String, target: Target, risk: Risk, ops: Vec<Operation>) -> Action {
    Action {
        kind: kind.into(),
        title,
        target,
        risk,
        operations: ops,
        precondition: Some(Check::Simulated {
            description: "the simulated target exists".into(),
        }),
        cooldown: Duration::from_secs(30),
        deadline: Duration::from_secs(30),
    }
}

fn demo_actions(component: &ComponentState) -> Vec<Action> {
    let id = component.meta.id.as_str().to_string();
    let name = component.meta.id.name().to_string();
    let target = |object: &str, confirm: &str| Target {
        component: id.clone(),
        object: object.into(),
        name: confirm.into(),
        identity: None,
    };
    let reading = component.reading.as_ref();
    match component.meta.kind {
        "host" => {
            let units: Vec<String> = reading
                .and_then(|r| r.as_any().downcast_ref::<HostReading>())
                .map(|h| {
                    h.units
                        .iter()
                        .map(|u| u.name.clone())
                        .filter(|n| !n.starts_with("nftables"))
                        .collect()
                })
                .unwrap_or_default();
            units
                .iter()
                .flat_map(|unit| {
                    [
                        action(
                            "demo.reload_unit",
                            format!("Reload {unit} on {name}"),
                            target(unit, &name),
                            Risk::High,
                            vec![simulated(
                                format!("ssh {name} -- systemctl reload {unit}"),
                                1500,
                            )],
                        ),
                        action(
                            "demo.restart_unit",
                            format!("Restart {unit} on {name}"),
                            target(unit, &name),
                            Risk::High,
                            vec![simulated(
                                format!("ssh {name} -- systemctl restart {unit}"),
                                5000,
                            )],
                        ),
                    ]
                })
                .collect()
        }
        "edge" => vec![action(
            "demo.nginx_reload",
            format!("Test the nginx config, then reload nginx on {name}"),
            target("nginx", &name),
            Risk::High,
            vec![
                simulated(format!("ssh {name} -- nginx -t"), 800),
                simulated(format!("ssh {name} -- systemctl reload nginx"), 1200),
            ],
        )],
        "sidekiq" => {
            let mut out: Vec<Action> = reading
                .and_then(|r| r.as_any().downcast_ref::<SidekiqReading>())
                .map(|s| {
                    s.process_list
                        .iter()
                        .filter(|p| !p.quiet)
                        .map(|p| {
                            action(
                                "demo.sidekiq_quiet",
                                format!("Quiet Sidekiq process {} (pid {})", p.hostname, p.pid),
                                target(&p.identity, &p.hostname),
                                Risk::Low,
                                vec![simulated(format!("LPUSH {}-signals TSTP", p.identity), 300)],
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(action(
                "demo.sidekiq_clear_dead",
                "Clear the dead set".into(),
                target("dead set", "dead"),
                Risk::Critical,
                vec![simulated("UNLINK dead".into(), 300)],
            ));
            out
        }
        "postgres" => vec![
            action(
                "demo.pg_cancel",
                "Cancel the longest-running query".into(),
                target("longest query", "cancel"),
                Risk::Low,
                vec![simulated("SELECT pg_cancel_backend(4121)".into(), 300)],
            ),
            action(
                "demo.pg_terminate",
                "Terminate the root blocker of the lock chain".into(),
                target("root blocker", &name),
                Risk::High,
                vec![simulated(
                    "SELECT pg_terminate_backend(4121, 5000)".into(),
                    600,
                )],
            ),
        ],
        _ => Vec::new(),
    }
}
