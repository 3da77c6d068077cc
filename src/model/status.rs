//! What mastop knows about its own view of a backend: fresh, stale, down, denied, disabled.

use std::time::{Duration, SystemTime};

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
    fn down_stays_down_whatever_the_age() {
        let status = SourceStatus {
            state: SourceState::Down,
            ..SourceStatus::pending(Duration::from_secs(1))
        };
        assert_eq!(status.effective_state(SystemTime::now()), SourceState::Down);
    }
}
