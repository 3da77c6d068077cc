//! What mastop knows about its own view of a backend: fresh, stale, down, denied, disabled.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// How often a source polls, and how long one poll may take before it counts as failed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub cadence: Duration,
    pub deadline: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// Not polled yet (the first frame is drawn before any network I/O).
    Pending,
    Ok,
    /// The last poll succeeded, but too long ago to trust.
    Stale,
    /// The last poll failed; the previous reading, if any, is kept and shown greyed.
    Down,
    /// The backend answered but refused us (privilege, auth).
    Denied,
    /// Turned off in config, or switched itself off.
    Disabled,
}

impl SourceState {
    pub fn word(self) -> &'static str {
        match self {
            SourceState::Pending => "pending",
            SourceState::Ok => "ok",
            SourceState::Stale => "stale",
            SourceState::Down => "down",
            SourceState::Denied => "denied",
            SourceState::Disabled => "disabled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceStatus {
    pub state: SourceState,
    #[serde(serialize_with = "ser_time")]
    pub last_ok: Option<SystemTime>,
    #[serde(serialize_with = "ser_time")]
    pub last_attempt: Option<SystemTime>,
    pub error: Option<String>,
    pub consecutive_failures: u32,
    /// How often the source polls when healthy; staleness is judged against it.
    #[serde(serialize_with = "ser_secs")]
    pub cadence: Duration,
    /// When the current run of failed polls began; `None` while the source answers.
    #[serde(serialize_with = "ser_time")]
    pub down_since: Option<SystemTime>,
    /// How often a failing source tries again; `None` while the source answers.
    #[serde(serialize_with = "ser_opt_secs")]
    pub retry_every: Option<Duration>,
    /// When the poller means to try next, as of the last poll.
    #[serde(serialize_with = "ser_time")]
    pub next_attempt: Option<SystemTime>,
}

impl SourceStatus {
    pub fn pending(cadence: Duration) -> Self {
        Self {
            state: SourceState::Pending,
            last_ok: None,
            last_attempt: None,
            error: None,
            consecutive_failures: 0,
            cadence,
            down_since: None,
            retry_every: None,
            next_attempt: None,
        }
    }

    pub fn disabled(reason: impl Into<String>) -> Self {
        Self {
            state: SourceState::Disabled,
            error: Some(reason.into()),
            ..Self::pending(Duration::ZERO)
        }
    }

    /// Age of the data on screen, if there is any.
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        self.last_ok
            .map(|t| now.duration_since(t).unwrap_or(Duration::ZERO))
    }

    /// While the source fails: for how long, how often it retries, and when next, e.g.
    /// `for 40s · retrying every 2s · next in 1s`. `None` while it answers.
    pub fn retry_text(&self, now: SystemTime) -> Option<String> {
        if !matches!(self.state, SourceState::Down | SourceState::Denied) {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(since) = self.down_since {
            let down = now.duration_since(since).unwrap_or(Duration::ZERO);
            parts.push(format!("for {}", whole(down)));
        }
        if let Some(every) = self.retry_every {
            parts.push(format!("retrying every {}", whole(every)));
        }
        if let Some(next) = self.next_attempt {
            parts.push(match next.duration_since(now) {
                // A second late still reads as now: the poll is under way.
                Ok(wait) if wait >= Duration::from_millis(500) => {
                    format!("next in {}", whole(wait))
                }
                _ => "retrying now".to_string(),
            });
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    }

    /// The state as of `now`: an OK source whose data is older than three cadences (and at
    /// least ten seconds) is stale, because its poller is stuck or the clock jumped.
    pub fn effective_state(&self, now: SystemTime) -> SourceState {
        if self.state != SourceState::Ok {
            return self.state;
        }
        let limit = (self.cadence * 3).max(Duration::from_secs(10));
        match self.age(now) {
            Some(age) if age > limit => SourceState::Stale,
            _ => SourceState::Ok,
        }
    }
}

fn ser_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&humantime::format_rfc3339_seconds(*t).to_string()),
        None => s.serialize_none(),
    }
}

/// A duration as an operator reads it: whole seconds (rounded) from a second up, milliseconds
/// below.
fn whole(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = Duration::from_secs((d.as_millis() as u64 + 500) / 1000);
    humantime::format_duration(secs).to_string()
}

fn ser_opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_turns_stale_after_three_cadences() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let status = SourceStatus {
            state: SourceState::Ok,
            last_ok: Some(t0),
            ..SourceStatus::pending(Duration::from_secs(5))
        };
        assert_eq!(
            status.effective_state(t0 + Duration::from_secs(14)),
            SourceState::Ok
        );
        assert_eq!(
            status.effective_state(t0 + Duration::from_secs(16)),
            SourceState::Stale
        );
        assert_eq!(
            status.age(t0 + Duration::from_secs(16)),
            Some(Duration::from_secs(16))
        );
    }

    #[test]
    fn a_failing_source_says_for_how_long_how_often_and_when_next() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let status = SourceStatus {
            state: SourceState::Down,
            down_since: Some(t0),
            retry_every: Some(Duration::from_secs(2)),
            next_attempt: Some(t0 + Duration::from_secs(41)),
            ..SourceStatus::pending(Duration::from_secs(2))
        };
        assert_eq!(
            status.retry_text(t0 + Duration::from_secs(40)).as_deref(),
            Some("for 40s · retrying every 2s · next in 1s")
        );
        assert_eq!(
            status
                .retry_text(t0 + Duration::from_millis(41_200))
                .as_deref(),
            Some("for 41s · retrying every 2s · retrying now")
        );
        let fast = SourceStatus {
            retry_every: Some(Duration::from_millis(200)),
            next_attempt: None,
            ..status.clone()
        };
        assert_eq!(
            fast.retry_text(t0 + Duration::from_secs(90)).as_deref(),
            Some("for 1m 30s · retrying every 200ms")
        );
        let ok = SourceStatus {
            state: SourceState::Ok,
            ..status
        };
        assert_eq!(ok.retry_text(t0), None);
    }

    #[test]
    fn down_stays_down_whatever_the_age() {
        let status = SourceStatus {
            state: SourceState::Down,
            ..SourceStatus::pending(Duration::from_secs(1))
        };
        assert_eq!(status.effective_state(SystemTime::now()), SourceState::Down);
    }
}
