//! Silences as actions: creating one (matchers prefilled from an alert, a duration, a
//! comment, the operator as its author) and expiring one. The request body is built here,
//! once, so the dialog, the audit record and the wire carry the same JSON.

use std::time::{Duration, SystemTime};

use crate::actions::action::{Action, Check, Operation, Risk, Target};
use crate::model::alerts::{Alert, Matcher, Silence};

pub const CREATE: &str = "alertmanager.create_silence";
pub const EXPIRE: &str = "alertmanager.expire_silence";

/// Alertmanager refuses shorter silences as pointless and longer ones would outlive a
/// shift's memory of why they were set.
pub const SHORTEST: Duration = Duration::from_secs(60);
pub const LONGEST: Duration = Duration::from_secs(30 * 86_400);

/// What the operator asks for, before it becomes an action.
#[derive(Clone, Debug, PartialEq)]
pub struct SilenceDraft {
    pub matchers: Vec<Matcher>,
    pub duration: Duration,
    pub comment: String,
}

/// The matchers that silence exactly this alert: each of its labels, equal.
pub fn matchers_for(alert: &Alert) -> Vec<Matcher> {
    alert
        .labels
        .iter()
        .map(|(k, v)| Matcher::equal(k, v))
        .collect()
}

/// Matchers as the operator edits them: `name="value", name=~"re", name!="value"`.
pub fn matchers_text(matchers: &[Matcher]) -> String {
    matchers
        .iter()
        .map(Matcher::display)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads matchers back from their text. Values are double-quoted with `\"` and `\\`
/// escapes (as [`Matcher::display`] writes them); names are label names.
pub fn parse_matchers(text: &str) -> Result<Vec<Matcher>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "expected a label name at `{}`",
                crate::sanitize::sanitize_truncated(rest, 20)
            ));
        }
        rest = rest[name_end..].trim_start();
        let (op, after) = ["=~", "!~", "!=", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|r| (*op, r)))
            .ok_or_else(|| format!("`{name}` needs =, !=, =~ or !~ and a quoted value"))?;
        let (value, after) = quoted(after.trim_start())
            .ok_or_else(|| format!("the value of `{name}` must be in double quotes"))?;
        out.push(Matcher {
            name: name.to_string(),
            value,
            is_regex: op.ends_with('~'),
            is_equal: !op.starts_with('!'),
        });
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

/// A double-quoted string with `\"`, `\\`, `\n`, `\t` and `\u{…}` escapes (Rust's debug
/// form, which [`Matcher::display`] writes), and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut chars = text.strip_prefix('"')?.char_indices();
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                '0' => value.push('\0'),
                'u' => {
                    if chars.next()?.1 != '{' {
                        return None;
                    }
                    let mut hex = String::new();
                    loop {
                        let (_, h) = chars.next()?;
                        if h == '}' {
                            break;
                        }
                        hex.push(h);
                    }
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// Why a draft cannot be sent, in the order the operator would fix it.
pub fn check_draft(draft: &SilenceDraft) -> Result<(), String> {
    if draft.matchers.is_empty() {
        return Err("a silence needs at least one matcher".into());
    }
    // Alertmanager's own rule: a silence whose matchers all match an empty label would
    // silence every alert.
    let matches_empty = |m: &Matcher| m.matches(&Default::default());
    if draft.matchers.iter().all(matches_empty) {
        return Err("at least one matcher must need a non-empty label value".into());
    }
    for m in &draft.matchers {
        if m.is_regex && regex::Regex::new(&m.value).is_err() {
            return Err(format!("`{}` is not a regular expression", m.display()));
        }
    }
    if draft.duration < SHORTEST || draft.duration > LONGEST {
        return Err("a silence lasts from 1 minute to 30 days".into());
    }
    if draft.comment.trim().is_empty() {
        return Err("say why in the comment: the next shift reads it".into());
    }
    Ok(())
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The action that creates `draft` on `component` (an Alertmanager), by `created_by`,
/// starting `now`. `matching` is how many firing alerts the matchers select: more than one
/// needs the count typed to confirm.
pub fn create(
    component: &str,
    draft: &SilenceDraft,
    created_by: &str,
    now: SystemTime,
    matching: usize,
) -> Action {
    let body = serde_json::json!({
        "matchers": draft.matchers,
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + draft.duration),
        "createdBy": created_by,
        "comment": draft.comment,
    });
    let duration = humantime::format_duration(draft.duration).to_string();
    let shown = matchers_text(&draft.matchers);
    let (risk, name, title) = if matching > 1 {
        (
            Risk::High,
            format!("{matching} alerts"),
            format!("Silence {matching} firing alerts for {duration}: {shown}"),
        )
    } else {
        (
            Risk::Low,
            "silence".to_string(),
            format!(
                "Silence {} for {duration}: {shown}",
                if matching == 1 {
                    "1 firing alert"
                } else {
                    "alerts not firing now"
                }
            ),
        )
    };
    Action {
        kind: CREATE.into(),
        title,
        target: Target {
            component: component.to_string(),
            object: format!("silence {shown}"),
            name,
            identity: None,
        },
        risk,
        operations: vec![Operation::Alertmanager {
            method: "POST".into(),
            path: "/api/v2/silences".into(),
            body: Some(body.to_string()),
        }],
        precondition: None,
        cooldown: Duration::ZERO,
        deadline: Duration::from_secs(20),
    }
}

/// The action that expires `silence` on `component`, if it is still live when it runs.
pub fn expire(component: &str, silence: &Silence) -> Action {
    let short: String = silence.id.chars().take(8).collect();
    Action {
        kind: EXPIRE.into(),
        title: format!(
            "Expire silence {short} by {}: {}",
            silence.created_by,
            matchers_text(&silence.matchers)
        ),
        target: Target {
            component: component.to_string(),
            object: format!("silence {}", silence.id),
            name: short,
            identity: Some(silence.id.clone()),
        },
        risk: Risk::Low,
        operations: vec![Operation::Alertmanager {
            method: "DELETE".into(),
            path: format!(
                "/api/v2/silence/{}",
                crate::sources::prometheus::api::encode(&silence.id)
            ),
            body: None,
        }],
        precondition: Some(Check::SilenceLive {
            id: silence.id.clone(),
        }),
        cooldown: Duration::ZERO,
        deadline: Duration::from_secs(20),
    }
}

/// The actions an Alertmanager offers from its detail view: expiring the selected silence.
pub fn offer(
    component: &str,
    reading: &dyn crate::model::Reading,
    selected: Option<crate::actions::catalog::Selected<'_>>,
) -> Vec<Action> {
    let Some(set) = reading.alerts() else {
        return Vec::new();
    };
    let Some(selected) =
        selected.filter(|s| s.table == crate::sources::alertmanager::SILENCES_TABLE)
    else {
        return Vec::new();
    };
    set.silences
        .iter()
        .filter(|s| s.id == selected.key && s.state != crate::model::alerts::SilenceState::Expired)
        .map(|s| expire(component, s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_read_back_what_they_display() {
        let ms = vec![
            Matcher::equal("alertname", "Disk \"full\" \\ now"),
            Matcher {
                name: "instance".into(),
                value: "db-.*".into(),
                is_regex: true,
                is_equal: true,
            },
            Matcher {
                name: "job".into(),
                value: "esc\u{1b}[31m".into(),
                is_regex: false,
                is_equal: false,
            },
        ];
        let text = matchers_text(&ms);
        assert_eq!(
            text,
            "alertname=\"Disk \\\"full\\\" \\\\ now\", instance=~\"db-.*\", job!=\"esc\\u{1b}[31m\""
        );
        assert_eq!(parse_matchers(&text).expect("parses"), ms);
        assert!(parse_matchers("alertname=Disk").is_err());
        assert!(parse_matchers("=\"x\"").is_err());
        assert!(parse_matchers("a \"x\"").is_err());
        assert_eq!(parse_matchers("  ").expect("empty"), Vec::<Matcher>::new());
    }

    #[test]
    fn drafts_are_checked_before_anything_is_built() {
        let good = SilenceDraft {
            matchers: vec![Matcher::equal("alertname", "Disk")],
            duration: Duration::from_secs(7200),
            comment: "resizing the volume".into(),
        };
        assert!(check_draft(&good).is_ok());
        let bad = |f: &dyn Fn(&mut SilenceDraft)| {
            let mut d = good.clone();
            f(&mut d);
            check_draft(&d).unwrap_err()
        };
        assert!(bad(&|d| d.matchers.clear()).contains("at least one matcher"));
        assert!(bad(&|d| d.matchers = vec![Matcher::equal("x", "")]).contains("non-empty"));
        assert!(bad(&|d| d.duration = Duration::from_secs(5)).contains("1 minute"));
        assert!(bad(&|d| d.comment = " ".into()).contains("comment"));
    }

    #[test]
    fn more_than_the_selected_alert_needs_the_count_typed() {
        let draft = SilenceDraft {
            matchers: vec![Matcher::equal("job", "node")],
            duration: Duration::from_secs(3600),
            comment: "kernel updates".into(),
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_557_600);
        let one = create("alertmanager/main", &draft, "mei on console-1", now, 1);
        assert_eq!(one.risk, Risk::Low);
        assert_eq!(one.title, "Silence 1 firing alert for 1h: job=\"node\"");
        assert_eq!(
            one.operations[0].display(),
            "POST /api/v2/silences {\"comment\":\"kernel updates\",\"createdBy\":\"mei on console-1\",\"endsAt\":\"2024-05-01T11:00:00.000Z\",\"matchers\":[{\"isEqual\":true,\"isRegex\":false,\"name\":\"job\",\"value\":\"node\"}],\"startsAt\":\"2024-05-01T10:00:00.000Z\"}"
        );
        let many = create("alertmanager/main", &draft, "mei", now, 12);
        assert_eq!(many.risk, Risk::High);
        assert_eq!(many.target.name, "12 alerts");
        assert!(many.title.starts_with("Silence 12 firing alerts for 1h"));
    }
}
