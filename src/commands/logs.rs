//! `mastop logs HOST UNIT`: a unit's log, read once, redacted and sanitised like the
//! console shows it, for scripts and for a quick look without the console.

use std::process::ExitCode;

use crate::cli::LogsArgs;
use crate::engine::Engine;
use crate::engine::logs::LOG_DEADLINE;
use crate::logs::query::{UnitPattern, Window};
use crate::logs::signatures::Signatures;
use crate::logs::{LogLine, ShownLine, format_time};
use crate::sources::journal::read_hosts;

const BAD_USAGE: u8 = 2;

pub(super) fn print(engine: &Engine, args: &LogsArgs) -> color_eyre::Result<ExitCode> {
    let usage = |e: String| {
        crate::errln!("mastop logs: {e}");
        Ok(ExitCode::from(BAD_USAGE))
    };
    let unit = match UnitPattern::parse(&args.unit) {
        Ok(u) => vec![u],
        Err(e) => return usage(e),
    };
    let window = match Window::parse(&args.since) {
        Ok(w) => w,
        Err(e) => return usage(e),
    };
    let signatures = match engine.log_signatures() {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let rt = super::runtime()?;
    let (lines, unreadable, errors) = match &args.loki {
        Some(name) => {
            let mut reader = match engine.loki_reader(Some(name)) {
                Ok(r) => r,
                Err(e) => return usage(e),
            };
            let hosts = host_names(engine, &args.host);
            let end = crate::sources::loki::now_ns();
            match rt.block_on(reader.read(&hosts, &unit, window, end, args.lines, LOG_DEADLINE)) {
                Ok(a) => (a.lines, a.unreadable, Vec::new()),
                Err(e) => (Vec::new(), 0, vec![e]),
            }
        }
        None => {
            let mut hosts = match engine.journal_hosts(&args.host) {
                Ok(h) => h,
                Err(e) => return usage(e),
            };
            rt.block_on(read_hosts(
                &mut hosts,
                &unit,
                window,
                args.lines,
                LOG_DEADLINE,
            ))
        }
    };
    for line in &lines {
        if args.json {
            crate::outln!("{}", serde_json::to_string(&shown(line, &signatures))?);
        } else {
            crate::outln!("{}", text_line(line, &signatures));
        }
    }
    if unreadable > 0 {
        crate::errln!("warning: {unreadable} lines were not journal JSON and were skipped");
    }
    for e in &errors {
        crate::errln!("error: {}", crate::sanitize::sanitize(e));
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn host_names(engine: &Engine, target: &str) -> Vec<String> {
    match target.strip_prefix("role:") {
        Some(role) => engine
            .config()
            .hosts
            .iter()
            .filter(|h| h.roles.iter().any(|r| r == role))
            .map(|h| h.name.clone())
            .collect(),
        None => vec![target.to_string()],
    }
}

fn shown(line: &LogLine, signatures: &Signatures) -> ShownLine {
    ShownLine {
        at: format_time(line.at_us),
        host: crate::sanitize::sanitize(&line.host).into_owned(),
        unit: crate::sanitize::sanitize(&line.unit).into_owned(),
        priority: line.priority.map(|p| p.value()),
        message: line.shown(false),
        signatures: signatures
            .matches(&crate::sanitize::sanitize(&line.message))
            .into_iter()
            .map(|i| signatures.name(i).to_string())
            .collect(),
    }
}

/// `TIME HOST UNIT PRIORITY message [signature]`
pub fn text_line(line: &LogLine, signatures: &Signatures) -> String {
    let s = shown(line, signatures);
    let priority = line.priority.map_or("-", |p| p.name());
    let mut out = format!("{} {} {} {priority} {}", s.at, s.host, s.unit, s.message);
    if !s.signatures.is_empty() {
        out.push_str(&format!("  [{}]", s.signatures.join(", ")));
    }
    out
}
