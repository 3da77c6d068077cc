//! Where a collector stands — leading, standing by, cut off from the store — and what its
//! log says when that changes: one line per change, never one per try, so a standby that
//! waits all night writes one line, not one per cadence.

use std::time::Duration;

use crate::store::leadership::CollectorId;

/// A collector's standing, as its log last told it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The ops store cannot be reached, so the lead can be neither taken nor kept.
    Unreachable,
    /// Another collector leads (`None`: its beat row does not say who yet).
    StandingBy(Option<CollectorId>),
    /// The leader is silent but this collector's login may not end its session: the
    /// server's idle cut will.
    CannotEnd(CollectorId),
    Leading,
    /// Leading, but the session that held the lead is gone: polling goes on and the lead
    /// is asked for again on a new session.
    Unseated,
}

/// How loud a line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loudness {
    Info,
    Warn,
}

/// What the log says when the standing goes from `from` (`None`: just started) to `to`;
/// `None` when nothing changed. `idle_cut` is how long the store lets a silent session
/// live (twice the leader timeout).
pub fn change(
    from: Option<&Standing>,
    to: &Standing,
    idle_cut: Duration,
) -> Option<(Loudness, String)> {
    if from == Some(to) {
        return None;
    }
    let was_leading = matches!(from, Some(Standing::Leading | Standing::Unseated));
    let line = match to {
        Standing::Unreachable if was_leading => (
            Loudness::Warn,
            "lost the lead: the ops store cannot be reached; standing by until it can".into(),
        ),
        Standing::Unreachable => (
            Loudness::Warn,
            "cannot reach the ops store; standing by until it can".into(),
        ),
        Standing::StandingBy(leader) => {
            let who = leader
                .as_ref()
                .map_or_else(|| "another collector".to_string(), ToString::to_string);
            if was_leading {
                (
                    Loudness::Warn,
                    format!("lost the lead: {who} leads now; standing by"),
                )
            } else {
                (
                    Loudness::Info,
                    format!(
                        "standing by: {who} leads; this collector polls nothing until it takes over"
                    ),
                )
            }
        }
        Standing::CannotEnd(leader) => (
            Loudness::Warn,
            format!(
                "{leader} is silent but this login may not end its store session (collectors must share one login, or hold pg_signal_backend); the store ends it after {} idle",
                humantime::format_duration(idle_cut)
            ),
        ),
        Standing::Leading => match from {
            Some(Standing::Unseated) => (
                Loudness::Info,
                "leading again on a new store session; publishing what changed meanwhile".into(),
            ),
            Some(Standing::StandingBy(Some(leader)) | Standing::CannotEnd(leader)) => (
                Loudness::Warn,
                format!("took over from {leader}: leading, polling and publishing the room"),
            ),
            _ => (
                Loudness::Info,
                "leading: polling and publishing the room".into(),
            ),
        },
        Standing::Unseated => (
            Loudness::Warn,
            "lost the store session that held the lead; still polling, asking for the lead again"
                .into(),
        ),
    };
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> CollectorId {
        CollectorId {
            host: "collector-b".into(),
            pid: 7,
        }
    }

    fn said(from: Option<&Standing>, to: &Standing) -> Option<String> {
        change(from, to, Duration::from_secs(20)).map(|(_, line)| line)
    }

    #[test]
    fn each_change_is_said_once_and_a_repeat_is_silent() {
        let standby = Standing::StandingBy(Some(b()));
        assert_eq!(
            said(None, &standby).as_deref(),
            Some(
                "standing by: collector-b pid 7 leads; this collector polls nothing until it takes over"
            )
        );
        assert_eq!(said(Some(&standby), &standby), None);
        assert_eq!(said(Some(&Standing::Leading), &Standing::Leading), None);
        assert_eq!(
            said(Some(&standby), &Standing::Leading).as_deref(),
            Some("took over from collector-b pid 7: leading, polling and publishing the room")
        );
        assert_eq!(
            said(None, &Standing::Leading).as_deref(),
            Some("leading: polling and publishing the room")
        );
        assert_eq!(
            said(Some(&Standing::Leading), &standby).as_deref(),
            Some("lost the lead: collector-b pid 7 leads now; standing by")
        );
        assert_eq!(
            said(Some(&Standing::Unseated), &Standing::StandingBy(None)).as_deref(),
            Some("lost the lead: another collector leads now; standing by")
        );
        assert!(
            said(Some(&Standing::Unseated), &Standing::Leading)
                .is_some_and(|l| l.starts_with("leading again"))
        );
        let cannot = said(Some(&standby), &Standing::CannotEnd(b())).unwrap_or_default();
        assert!(cannot.contains("after 20s idle"), "{cannot}");
    }
}
