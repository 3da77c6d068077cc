//! The command palette's vocabulary: the commands `:` offers, what each does (for the
//! help), and completion of what was typed. The console carries the commands out.

use crate::model::Fleet;

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
