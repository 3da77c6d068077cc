//! A runbook as text for people: what `mastop runbook show` prints and the console's
//! details pane draws (after sanitising).

use super::model::{DryRun, Probe, Runbook, StepOp};
use super::params::Param;

/// The parameter as one line: name, type, default, description.
pub fn param_line(p: &Param) -> String {
    let mut line = format!("{} ({})", p.name, p.kind.word());
    match (&p.default, p.required) {
        (Some(d), _) => line.push_str(&format!(", default {d}")),
        (None, false) => line.push_str(", optional"),
        (None, true) => line.push_str(", required"),
    }
    if !p.description.is_empty() {
        line.push_str(&format!(": {}", p.description));
    }
    line
}

/// Every step as written (placeholders unfilled), with its dry-run form.
pub fn step_lines(r: &Runbook) -> Vec<String> {
    let mut out = Vec::new();
    for (i, s) in r.steps.iter().enumerate() {
        let what = match &s.op {
            StepOp::Ssh { argv } => format!("ssh: {}", joined(argv.iter().map(|t| &t.source))),
            StepOp::Sql { on, text, params } => {
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if params.is_empty() {
                    format!("sql on {}: {text}", on.source)
                } else {
                    format!(
                        "sql on {}: {text} with [{}]",
                        on.source,
                        joined(params.iter().map(|t| &t.source))
                    )
                }
            }
            StepOp::Redis { on, argv } => {
                let shown: Vec<String> = argv
                    .iter()
                    .map(|t| t.source.split_whitespace().collect::<Vec<_>>().join(" "))
                    .map(|a| {
                        if a.chars().count() > 40 {
                            format!("«{}…»", a.chars().take(38).collect::<String>())
                        } else {
                            a
                        }
                    })
                    .collect();
                format!("redis on {}: {}", on.source, shown.join(" "))
            }
            StepOp::Http { method, url } => format!("http: {method} {}", url.source),
            StepOp::Wait(c) => format!("wait: {} (up to {})", c.title, timeout_word(&c.timeout)),
        };
        out.push(format!("{}. {} [{}]", i + 1, s.title, s.risk.word()));
        out.push(format!("   {what}"));
        if let Some(f) = &s.fan_out {
            let mut sel = Vec::new();
            for (k, v) in [
                ("role", &f.hosts.role),
                ("tag", &f.hosts.tag),
                ("name", &f.hosts.name),
            ] {
                if let Some(v) = v {
                    sel.push(format!("{k} {}", v.source));
                }
            }
            if let Some(n) = f.hosts.limit {
                sel.push(format!("at most {n}"));
            }
            let pace = if f.one_at_a_time {
                "one at a time"
            } else {
                "all at once"
            };
            out.push(format!("   on hosts: {}, {pace}", sel.join(", ")));
            if let Some(g) = &f.gate {
                let probe = match &g.probe {
                    Probe::Http { url, status } => format!("GET {} answers {status}", url.source),
                    _ => g.title.clone(),
                };
                out.push(format!(
                    "   gate after each host: {probe} within {}",
                    timeout_word(&g.timeout)
                ));
            }
        }
        let dry = match &s.dry_run {
            DryRun::Skip => "skipped".to_string(),
            DryRun::Same => "runs as written (changes nothing)".to_string(),
            DryRun::Argv(argv) => joined(argv.iter().map(|t| &t.source)),
            DryRun::Sql { text, .. } => text.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        out.push(format!("   dry run: {dry}"));
    }
    out
}

fn timeout_word(t: &super::model::DurationSpec) -> String {
    match t {
        super::model::DurationSpec::Fixed(d) => humantime::format_duration(*d).to_string(),
        super::model::DurationSpec::Param(p) => format!("{{{p}}}"),
    }
}

fn joined<'a>(items: impl Iterator<Item = &'a String>) -> String {
    items.map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// The whole runbook: header, description, parameters, preconditions, steps, rollback.
pub fn lines(r: &Runbook) -> Vec<String> {
    let mut out = vec![
        format!("{} — {}", r.name, r.title),
        format!(
            "risk {} · run by {} · from {}",
            r.risk.word(),
            r.role.word(),
            r.origin
        ),
        String::new(),
    ];
    out.extend(r.description.trim().lines().map(str::to_string));
    out.push(String::new());
    if r.params.is_empty() {
        out.push("Parameters: none".into());
    } else {
        out.push("Parameters:".into());
        out.extend(r.params.iter().map(|p| format!("  {}", param_line(p))));
    }
    if !r.preconditions.is_empty() {
        out.push("Before the first step:".into());
        out.extend(r.preconditions.iter().map(|c| format!("  {}", c.title)));
    }
    out.push("Steps:".into());
    out.extend(step_lines(r).into_iter().map(|l| format!("  {l}")));
    out.push(String::new());
    out.push("Rollback:".into());
    out.extend(r.rollback.trim().lines().map(|l| format!("  {l}")));
    out
}
