//! Demo time. The script is a loop: every incident is a function of the position in the
//! current cycle, while counters (processed jobs, uptime) use the total elapsed time so
//! they never run backwards. Dates follow the real clock: an [`Anchor`] places demo time on
//! the calendar, so a certificate with 15 days left expires 15 days from today.

use std::time::{Duration, SystemTime};

pub use crate::calendar::rfc3339;

/// One run of the incident script; after this the story starts over.
pub const CYCLE: Duration = Duration::from_secs(600);

/// Certificates age this many simulated seconds per demo second (one hour per second),
/// so an expiry that takes days in real life crosses its thresholds within minutes.
pub const CALENDAR_SPEED: f64 = 3600.0;

/// Seconds into the current cycle.
pub fn script_secs(t: Duration) -> f64 {
    (t.as_nanos() % CYCLE.as_nanos()) as f64 / 1e9
}

/// Which cycle `t` falls in, counted from zero.
pub fn cycle_index(t: Duration) -> u64 {
    (t.as_nanos() / CYCLE.as_nanos()) as u64
}

/// Where demo time sits on the real calendar: the wall-clock moment demo time zero stands
/// for. Taken from the clock when the demo starts, so every absolute date the demo shows
/// (a certificate's expiry, Sidekiq's history, a session's start) is around today.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Anchor {
    zero_unix: f64,
}

impl Anchor {
    /// The anchor that puts demo time `t` at wall-clock `now`.
    pub fn new(t: Duration, now: SystemTime) -> Anchor {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Anchor {
            zero_unix: now - t.as_secs_f64(),
        }
    }

    /// Unix seconds of demo time `t` (real speed), for heartbeats, scores and dates.
    pub fn wall_unix(self, t: Duration) -> f64 {
        self.zero_unix + t.as_secs_f64()
    }

    /// Unix seconds of demo time zero.
    pub fn zero_unix(self) -> f64 {
        self.zero_unix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_loops_but_time_does_not() {
        let anchor = Anchor::new(Duration::ZERO, SystemTime::UNIX_EPOCH);
        let t = CYCLE + Duration::from_secs(30);
        assert_eq!(script_secs(t), 30.0);
        assert_eq!(cycle_index(t), 1);
        assert!(anchor.wall_unix(t) > anchor.wall_unix(Duration::from_secs(30)));
    }

    #[test]
    fn the_anchor_puts_demo_time_at_the_given_moment() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let anchor = Anchor::new(Duration::from_secs(300), now);
        assert_eq!(anchor.wall_unix(Duration::from_secs(300)), 1_800_000_000.0);
        assert_eq!(anchor.zero_unix(), 1_799_999_700.0);
    }
}
