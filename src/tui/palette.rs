//! The command palette's vocabulary: the commands `:` offers, what each does (for the
//! help), completion of what was typed, and what a typed line asks of the console.

use super::component::{Effect, View};
use super::theme::Theme;
use crate::model::{Fleet, Level};

pub const PALETTE_COMMANDS: &[(&str, &str)] = &[
    ("overview", "every component and its health"),
    (
        "fleet",
        "hosts by role and region, with Tailscale and Ansible inventory",
    ),
    ("audit", "what was done, by whom, with which outcome"),
    (
        "alerts",
        "what Alertmanager says is firing, silenced and inhibited; its silences",
    ),
    (
        "runbooks",
        "written procedures: read, preview, run step by step",
    ),
    (
        "logs",
        "a unit's log: :logs HOST UNIT, :logs role:NAME UNIT [WINDOW]",
    ),
    ("freeze", "stop all actions for everyone: :freeze REASON"),
    ("unfreeze", "lift the freeze"),
    (
        "approve",
        "approve another console's critical action: :approve ID",
    ),
    (
        "handoff",
        "the handoff report: :handoff, :handoff last, :handoff write NAME [ZONE]",
    ),
    (
        "note",
        "add a shift note: :note TEXT (also :item, :mitigation, :silence, :done)",
    ),
    ("ack", "acknowledge the handoff waiting for you"),
    ("help", "keys and commands"),
    ("theme", "switch theme: :theme light"),
    ("quit", "leave mastop (also :q)"),
];

/// Commands (and kinds) starting with what was typed, for completion and the hint line.
pub fn completions(typed: &str, fleet: &Fleet) -> Vec<String> {
    let typed = typed.trim();
    PALETTE_COMMANDS
        .iter()
        .map(|(c, _)| (*c).to_string())
        .chain(fleet.kinds().into_iter().map(str::to_string))
        .filter(|c| c.starts_with(typed))
        .collect()
}

/// What a line typed at `:` asks of the console.
pub fn run(line: &str, fleet: &Fleet) -> Effect {
    let mut words = line.split_whitespace();
    let Some(command) = words.next() else {
        return Effect::None;
    };
    let usage = |text: String| Effect::Flash(text, Level::Unknown);
    match command {
        "q" | "q!" | "quit" => Effect::Quit,
        "help" | "h" | "?" => Effect::Help,
        "overview" | "o" | "home" => Effect::Open(View::Overview),
        "runbooks" | "runbook" | "rb" => Effect::Runbooks,
        "fleet" | "inventory" => Effect::Open(View::Fleet),
        "alerts" | "alert" => Effect::Open(View::Alerts),
        "audit" => Effect::Many(vec![Effect::Open(View::Audit), Effect::LoadAudit]),
        "freeze" => {
            let reason = words.collect::<Vec<_>>().join(" ");
            if reason.is_empty() {
                return usage("say why: :freeze REASON (everyone will see it)".into());
            }
            Effect::Freeze(Some(reason))
        }
        "unfreeze" => Effect::Freeze(None),
        "logs" | "log" => {
            let words: Vec<&str> = words.collect();
            match super::logs::target::parse(&words) {
                Ok(target) => Effect::OpenLogs(Some(target)),
                Err(e) => Effect::Flash(e, Level::Warn),
            }
        }
        "handoff" | "ack" | "note" | "item" | "mitigation" | "silence" | "done" => {
            Effect::HandoffCommand(command.to_string(), words.map(str::to_string).collect())
        }
        "approve" => match words.next() {
            Some(id) => Effect::Approve(id.to_string()),
            None => usage("usage: :approve ID (the id the other console shows)".into()),
        },
        "theme" => match words.next() {
            Some(name) => Effect::Theme(name.to_string()),
            None => usage(format!(
                "usage: :theme NAME ({})",
                Theme::names_builtin().join(", ")
            )),
        },
        other => {
            let kind = match other {
                "pg" | "db" => "postgres",
                "es" => "elasticsearch",
                "edges" | "cdn" => "edge",
                "hosts" => "host",
                k => k,
            };
            match fleet.kinds().into_iter().find(|k| *k == kind) {
                Some(kind) => Effect::Open(View::Kind(kind)),
                None => Effect::Flash(
                    format!(
                        "unknown command `{}`: try :help",
                        crate::sanitize::sanitize(other)
                    ),
                    Level::Warn,
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_offers_commands_then_kinds_that_start_with_the_text() {
        let fleet = crate::tui::rows::testing::pending(&[("postgres", "primary")]);
        assert_eq!(completions(" po", &fleet), ["postgres"]);
        assert_eq!(completions("h", &fleet), ["handoff", "help"]);
        assert!(completions("zz", &fleet).is_empty());
        assert_eq!(
            completions("", &fleet).len(),
            PALETTE_COMMANDS.len() + 1,
            "an empty line offers everything"
        );
    }
}
