//! The handoff report as Markdown, for the console's `:handoff` view, `mastop handoff show`
//! and pasting into a ticket or chat. A pure function of the report.
//!
//! Every string in a report came from outside (notes, component reasons, audit records):
//! each is stripped of control and escape sequences, kept to one line, and has the
//! characters that would break a table, a list or emphasis escaped.

use std::fmt::Write;
use std::time::SystemTime;

use super::report::{ActionTaken, Handoff};
use super::shift_log::ShiftEntry;
use super::zone::{Zone, format_in};

pub fn render(h: &Handoff) -> String {
    let mut out = String::new();
    let written = parse(&h.written_at);
    let _ = writeln!(
        out,
        "# Handoff: {} → {}\n",
        text(&h.from.name),
        text(&h.to.name)
    );
    let _ = writeln!(
        out,
        "- Written: {} by {} on {} (id {})",
        when_utc(&h.written_at),
        text(&h.from.name),
        text(&h.console_host),
        code(&h.id)
    );
    let (start, end) = (parse(&h.window_start), parse(&h.window_end));
    let _ = writeln!(out, "- Shift window:");
    let _ = writeln!(
        out,
        "  - UTC: {} → {}",
        when_utc(&h.window_start),
        when_utc(&h.window_end)
    );
    for person in [&h.from, &h.to] {
        let _ = writeln!(
            out,
            "  - {} ({}): {} → {}",
            text(&person.name),
            text(&person.zone),
            start.map_or_else(|| "?".into(), |t| text(&format_in(&person.zone, t))),
            end.map_or_else(|| "?".into(), |t| text(&format_in(&person.zone, t))),
        );
    }
    match &h.acknowledged {
        Some(ack) => {
            let _ = writeln!(
                out,
                "- Acknowledged by {} on {} at {}",
                text(&ack.by),
                text(&ack.console_host),
                when_utc(&ack.at)
            );
        }
        None => {
            let _ = writeln!(out, "- **Not yet acknowledged**");
        }
    }

    let _ = writeln!(out, "\n## Not OK right now ({})\n", h.not_ok.len());
    let _ = writeln!(out, "From the {}.\n", text(&h.fleet_source));
    if h.not_ok.is_empty() {
        let _ = writeln!(out, "Every component reported OK.");
    } else {
        let _ = writeln!(out, "| Component | Level | Why |\n|---|---|---|");
        for p in &h.not_ok {
            let why = p.reasons.iter().map(|r| text(r)).collect::<Vec<_>>();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                text(&p.id),
                text(&p.level),
                if why.is_empty() {
                    "—".into()
                } else {
                    why.join("; ")
                }
            );
        }
    }

    let _ = writeln!(out, "\n## Actions during the shift ({})\n", h.actions.len());
    if h.actions.is_empty() {
        let _ = writeln!(out, "None recorded in the audit history.");
    }
    for a in &h.actions {
        action(&mut out, a);
    }

    let _ = writeln!(out, "\n## Open items ({})\n", h.open_items.len());
    if h.open_items.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for e in &h.open_items {
        let _ = writeln!(
            out,
            "- [ ] {} — owner: {} (since {}, id {})",
            text(&e.text),
            e.owner.as_deref().map_or_else(|| "unassigned".into(), text),
            when_utc(&e.time),
            code(&e.id)
        );
    }

    let _ = writeln!(
        out,
        "\n## Mitigations still in place ({})\n",
        h.mitigations.len()
    );
    if h.mitigations.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for e in &h.mitigations {
        timed(&mut out, e, "undo by", h, written);
    }

    match &h.alertmanager_silences {
        Some(list) => {
            let _ = writeln!(
                out,
                "\n## Silences set during the shift ({}, from Alertmanager)\n",
                list.len()
            );
            if list.is_empty() {
                let _ = writeln!(out, "None.");
            }
            for s in list {
                let _ = writeln!(
                    out,
                    "- {} — by {}, {} until {} (on {}, id {}): {}",
                    code(&s.matchers),
                    text(&s.created_by),
                    text(&s.state),
                    when_utc(&s.ends_at),
                    text(&s.alertmanager),
                    code(&s.id),
                    text(&s.comment)
                );
            }
            if !h.silences.is_empty() {
                let _ = writeln!(out, "\nAlso noted by hand:\n");
                for e in &h.silences {
                    timed(&mut out, e, "until", h, written);
                }
            }
        }
        None => {
            let _ = writeln!(out, "\n## Silenced alerts ({})\n", h.silences.len());
            let _ = writeln!(
                out,
                "No Alertmanager is configured: this is the list the outgoing engineer keeps of silences set elsewhere.\n"
            );
            if h.silences.is_empty() {
                let _ = writeln!(out, "None.");
            }
            for e in &h.silences {
                timed(&mut out, e, "until", h, written);
            }
        }
    }

    let _ = writeln!(out, "\n## Shift notes ({})\n", h.notes.len());
    if h.notes.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for n in &h.notes {
        let _ = writeln!(
            out,
            "- {} {}: {}",
            when_utc(&n.time),
            text(&n.author),
            text(&n.text)
        );
    }

    if !h.gaps.is_empty() {
        let _ = writeln!(out, "\n## Missing from this report\n");
        for g in &h.gaps {
            let _ = writeln!(out, "- {}", text(g));
        }
    }
    out
}

fn action(out: &mut String, a: &ActionTaken) {
    let duration = a
        .duration_ms
        .map(|ms| format!(" in {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "- {} · {} on {} · {} · {} · risk {} · **{}**{duration}",
        when_utc(&a.time),
        text(&a.operator),
        text(&a.console_host),
        text(&a.title),
        text(&a.target),
        text(&a.risk),
        text(&a.outcome),
    );
    if let Some(runbook) = &a.runbook {
        let _ = writeln!(out, "  - from {}", text(runbook));
    }
    for op in &a.operations {
        let _ = writeln!(out, "  - {}", code(op));
    }
    if let Some(error) = &a.error {
        let _ = writeln!(out, "  - error: {}", text(error));
    }
}

/// A mitigation or silence with its deadline in UTC and both engineers' zones, flagged
/// when it is already past at the time of writing.
fn timed(out: &mut String, e: &ShiftEntry, label: &str, h: &Handoff, written: Option<SystemTime>) {
    let until = e.until_at();
    let deadline = match until {
        Some(t) => {
            let mut zones = vec![Zone::utc().format(t)];
            for zone in [&h.from.zone, &h.to.zone] {
                let local = format_in(zone, t);
                if !zones.contains(&local) {
                    zones.push(local);
                }
            }
            let overdue = written.is_some_and(|w| t <= w);
            format!(
                "{label} {}{}",
                text(&zones.join(" / ")),
                if overdue { " — **overdue**" } else { "" }
            )
        }
        None => format!("no {label} time"),
    };
    let owner = e
        .owner
        .as_deref()
        .map(|o| format!(" — owner: {}", text(o)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "- {} — {deadline}{owner} (since {}, id {})",
        text(&e.text),
        when_utc(&e.time),
        code(&e.id)
    );
}

fn parse(time: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(time).ok()
}

fn when_utc(time: &str) -> String {
    parse(time).map_or_else(|| text(time), |t| Zone::utc().format(t))
}

/// One line of plain text: no control or escape sequences, and every character that
/// Markdown would read as table, list, link, HTML or emphasis syntax escaped.
pub fn text(raw: &str) -> String {
    let clean = crate::sanitize::sanitize(raw);
    let mut out = String::with_capacity(clean.len());
    let chars: Vec<char> = clean.trim().chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // An underscore inside a word never starts emphasis, so `New_York` stays readable.
        let inside_word = c == '_'
            && i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if !inside_word
            && matches!(
                c,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '!'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span that holds any text: fenced with more backticks than the longest run inside.
pub fn code(raw: &str) -> String {
    let clean = crate::sanitize::sanitize(raw);
    let clean = clean.trim();
    let longest = clean.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if clean.starts_with('`') || clean.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{clean}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_break_out_of_a_table_cell_or_the_terminal() {
        let t = text("a | b\n# heading *bold* \u{1b}]52;c;aGk=\u{7}<script>");
        assert_eq!(t, "a \\| b \\# heading \\*bold\\* \\<script\\>");
        assert_eq!(text("America/New_York _x_"), "America/New_York \\_x\\_");
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("redis-cli DEL x"), "`redis-cli DEL x`");
        assert_eq!(code("echo ``a` b"), "```echo ``a` b```");
        assert_eq!(code("`x`"), "`` `x` ``");
    }
}
