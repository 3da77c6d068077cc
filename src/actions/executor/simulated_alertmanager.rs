//! The demo's Alertmanager: silences created and expired by the demo executor live here,
//! in memory, and nowhere else. The requests are the exact ones a real Alertmanager would
//! get (the same JSON the dialog showed and the audit recorded), read the way it reads them.

use std::time::SystemTime;

use serde::Deserialize;

use crate::model::alerts::{Matcher, Silence, SilenceState};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostedSilence {
    matchers: Vec<Matcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

/// Applies one `Operation::Alertmanager` request to the sandbox's silences at `now`, as
/// Alertmanager's API v2 would: `POST /api/v2/silences` adds one and answers its id,
/// `DELETE /api/v2/silence/{id}` expires a live one.
pub fn apply(
    silences: &mut Vec<Silence>,
    method: &str,
    path: &str,
    body: Option<&str>,
    now: SystemTime,
) -> Result<String, String> {
    match (method, path) {
        ("POST", "/api/v2/silences") => {
            let body = body.ok_or("a silence needs a body")?;
            let posted: PostedSilence = serde_json::from_str(body)
                .map_err(|e| format!("the silence is not valid JSON for API v2: {e}"))?;
            let time = |text: &str, what: &str| {
                humantime::parse_rfc3339(text).map_err(|_| format!("{what} is not RFC 3339"))
            };
            let starts_at = time(&posted.starts_at, "startsAt")?;
            let ends_at = time(&posted.ends_at, "endsAt")?;
            if ends_at <= starts_at {
                return Err("endsAt must be after startsAt".into());
            }
            if posted.matchers.is_empty() {
                return Err("a silence needs at least one matcher".into());
            }
            let id = format!("sandbox-{}", crate::actions::audit::new_id());
            silences.push(Silence {
                id: id.clone(),
                matchers: posted.matchers,
                starts_at: Some(starts_at),
                ends_at: Some(ends_at),
                updated_at: Some(now),
                created_by: posted.created_by,
                comment: posted.comment,
                state: SilenceState::Active,
            });
            Ok(format!("simulated Alertmanager created silence {id}"))
        }
        ("DELETE", _) => {
            let id = path
                .strip_prefix("/api/v2/silence/")
                .ok_or_else(|| format!("the demo's Alertmanager has no `{path}`"))?;
            let silence = silences
                .iter_mut()
                .find(|s| s.id == id && state_at(s, now) != SilenceState::Expired)
                .ok_or_else(|| format!("no live silence {id}"))?;
            silence.ends_at = Some(now);
            silence.updated_at = Some(now);
            silence.state = SilenceState::Expired;
            Ok(format!("simulated Alertmanager expired silence {id}"))
        }
        _ => Err(format!(
            "the demo's Alertmanager does not answer {method} {path}"
        )),
    }
}

/// Where a silence stands at `now`: pending before it starts, expired once it ends.
pub fn state_at(silence: &Silence, now: SystemTime) -> SilenceState {
    match (silence.starts_at, silence.ends_at) {
        (_, Some(end)) if end <= now => SilenceState::Expired,
        (Some(start), _) if start > now => SilenceState::Pending,
        _ => SilenceState::Active,
    }
}

/// Whether silence `id` is active or pending at `now` (the expire action's re-check).
pub fn is_live(silences: &[Silence], id: &str, now: SystemTime) -> bool {
    silences
        .iter()
        .any(|s| s.id == id && state_at(s, now) != SilenceState::Expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const BODY: &str = r#"{"comment":"resizing","createdBy":"mei","endsAt":"2024-05-01T11:00:00.000Z","matchers":[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}],"startsAt":"2024-05-01T10:00:00.000Z"}"#;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_557_600 + secs)
    }

    #[test]
    fn a_posted_silence_is_live_until_expired() {
        let mut silences = Vec::new();
        let said =
            apply(&mut silences, "POST", "/api/v2/silences", Some(BODY), at(0)).expect("created");
        assert!(said.contains("created silence sandbox-"));
        let id = silences[0].id.clone();
        assert_eq!(silences[0].created_by, "mei");
        assert!(is_live(&silences, &id, at(60)));
        assert_eq!(state_at(&silences[0], at(3600)), SilenceState::Expired);
        let path = format!("/api/v2/silence/{id}");
        apply(&mut silences, "DELETE", &path, None, at(120)).expect("expired");
        assert!(!is_live(&silences, &id, at(121)));
        let again = apply(&mut silences, "DELETE", &path, None, at(130)).unwrap_err();
        assert!(again.contains("no live silence"));
    }

    #[test]
    fn malformed_requests_are_refused_with_a_reason() {
        let mut silences = Vec::new();
        let post = |s: &mut Vec<Silence>, body: &str| {
            apply(s, "POST", "/api/v2/silences", Some(body), at(0)).unwrap_err()
        };
        assert!(post(&mut silences, "{").contains("not valid JSON"));
        let backwards = BODY.replace("11:00:00", "09:00:00");
        assert!(post(&mut silences, &backwards).contains("after startsAt"));
        let no_matchers = BODY.replace(
            r#"[{"isEqual":true,"isRegex":false,"name":"job","value":"node"}]"#,
            "[]",
        );
        assert!(post(&mut silences, &no_matchers).contains("at least one matcher"));
        assert!(
            apply(&mut silences, "GET", "/api/v2/status", None, at(0))
                .unwrap_err()
                .contains("does not answer")
        );
        assert!(silences.is_empty());
    }
}
