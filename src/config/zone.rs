//! Time zones for the shift window: the outgoing and incoming engineers' IANA zones, read
//! from the system's time zone database.

use std::time::SystemTime;

use jiff::tz::TimeZone;

#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    /// The zone called `name` ("Europe/Berlin", "UTC"). An unknown name is an error that
    /// says what is expected.
    pub fn named(name: &str) -> Result<Zone, String> {
        let shown = crate::sanitize::sanitize(name);
        if name.trim().is_empty() {
            return Err("the time zone is empty".into());
        }
        TimeZone::get(name)
            .map(|tz| Zone {
                name: name.to_string(),
                tz,
            })
            .map_err(|_| {
                format!(
                    "unknown time zone `{shown}`: not in the time zone database (/usr/share/zoneinfo) — \
                     use an IANA name such as Europe/Berlin or America/New_York"
                )
            })
    }

    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `2026-11-26 11:38 CET`.
    pub fn format(&self, time: SystemTime) -> String {
        match jiff::Timestamp::try_from(time) {
            Ok(ts) => ts
                .to_zoned(self.tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string(),
            Err(_) => "(time out of range)".into(),
        }
    }
}

/// `at` in `zone`, or a plain UTC rendering with a note when the zone is not known here
/// (a report written on a console whose database knows a zone this one does not).
pub fn format_in(zone_name: &str, time: SystemTime) -> String {
    match Zone::named(zone_name) {
        Ok(zone) => zone.format(time),
        Err(_) => format!(
            "{} (zone {} unknown here)",
            Zone::utc().format(time),
            crate::sanitize::sanitize(zone_name)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_in_both_zones_and_refuses_unknown_ones() {
        // 2026-01-15 12:00:00 UTC
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_768_478_400);
        assert_eq!(Zone::utc().format(t), "2026-01-15 12:00 UTC");
        let berlin = Zone::named("Europe/Berlin").expect("Berlin is in tzdata");
        assert_eq!(berlin.format(t), "2026-01-15 13:00 CET");
        let ny = Zone::named("America/New_York").expect("New York is in tzdata");
        assert_eq!(ny.format(t), "2026-01-15 07:00 EST");
        let err = Zone::named("Mars/Olympus_Mons").expect_err("no such zone");
        assert!(
            err.contains("Mars/Olympus_Mons") && err.contains("IANA"),
            "{err}"
        );
        let err = Zone::named("Europe/\u{1b}[31mRed").expect_err("escape in name");
        assert!(!err.contains('\u{1b}'), "{err:?}");
    }
}
