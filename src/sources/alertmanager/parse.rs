//! Alertmanager API v2 answers into [`AlertSet`]s: `/api/v2/alerts/groups`,
//! `/api/v2/silences` and `/api/v2/status`. Only the fields mastop shows are read; the
//! status page's copy of Alertmanager's own config (receiver URLs, SMTP passwords) is never
//! kept.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::model::alerts::{
    Alert, AlertGroup, AlertSet, AlertState, Labels, Matcher, Silence, SilenceState,
};

/// Expired silences are kept this long, for the handoff report of the shift that set them.
pub const EXPIRED_KEPT: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize)]
struct RawGroup {
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    receiver: Option<RawReceiver>,
    #[serde(default)]
    alerts: Vec<RawAlert>,
}

#[derive(Deserialize)]
struct RawReceiver {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    status: Option<RawStatus>,
    #[serde(default)]
    receivers: Vec<RawReceiver>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStatus {
    #[serde(default)]
    state: String,
    #[serde(default)]
    silenced_by: Vec<String>,
    #[serde(default)]
    inhibited_by: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSilence {
    id: String,
    #[serde(default)]
    matchers: Vec<Matcher>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    status: Option<RawSilenceStatus>,
}

#[derive(Deserialize)]
struct RawSilenceStatus {
    #[serde(default)]
    state: String,
}

/// `2024-05-01T10:00:00.123Z` (any offset) as a time.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let ts: jiff::Timestamp = text.parse().ok()?;
    let nanos = ts.as_nanosecond();
    if nanos >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_nanos(u64::try_from(-nanos).ok()?))
    }
}

fn what(e: &serde_json::Error, page: &str) -> String {
    format!("{page} is not Alertmanager's API v2 answer ({e})")
}

/// The groups, each alert once however many groups (receivers) it is in.
pub fn parse_groups(body: &[u8]) -> Result<AlertSet, String> {
    let raw: Vec<RawGroup> =
        serde_json::from_slice(body).map_err(|e| what(&e, "/api/v2/alerts/groups"))?;
    let mut set = AlertSet::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for group in raw {
        let mut indices = Vec::with_capacity(group.alerts.len());
        for a in group.alerts {
            // An alert without a fingerprint cannot be told from another: keep each.
            let index = match seen.get(&a.fingerprint) {
                Some(&i) if !a.fingerprint.is_empty() => i,
                _ => {
                    let i = set.alerts.len();
                    if !a.fingerprint.is_empty() {
                        seen.insert(a.fingerprint.clone(), i);
                    }
                    set.alerts.push(alert(a));
                    i
                }
            };
            indices.push(index);
        }
        set.groups.push(AlertGroup {
            labels: group.labels,
            receiver: group.receiver.map(|r| r.name).unwrap_or_default(),
            alerts: indices,
        });
    }
    Ok(set)
}

fn alert(a: RawAlert) -> Alert {
    let status = a.status.unwrap_or(RawStatus {
        state: String::new(),
        silenced_by: Vec::new(),
        inhibited_by: Vec::new(),
    });
    let state = match status.state.as_str() {
        "active" => AlertState::Active,
        "suppressed" => AlertState::Suppressed,
        _ if !status.silenced_by.is_empty() || !status.inhibited_by.is_empty() => {
            AlertState::Suppressed
        }
        _ => AlertState::Unprocessed,
    };
    Alert {
        fingerprint: a.fingerprint,
        labels: a.labels,
        annotations: a.annotations,
        starts_at: a.starts_at.as_deref().and_then(parse_time),
        state,
        silenced_by: status.silenced_by,
        inhibited_by: status.inhibited_by,
        receivers: a.receivers.into_iter().map(|r| r.name).collect(),
    }
}

/// Active and pending silences, and those expired within [`EXPIRED_KEPT`] of `now`
/// (Alertmanager keeps expired ones for days); newest first.
pub fn parse_silences(body: &[u8], now: SystemTime) -> Result<Vec<Silence>, String> {
    let raw: Vec<RawSilence> =
        serde_json::from_slice(body).map_err(|e| what(&e, "/api/v2/silences"))?;
    let mut out: Vec<Silence> = raw
        .into_iter()
        .filter_map(|s| {
            let state = match s.status.as_ref().map(|st| st.state.as_str()) {
                Some("active") => SilenceState::Active,
                Some("pending") => SilenceState::Pending,
                _ => SilenceState::Expired,
            };
            let ends_at = s.ends_at.as_deref().and_then(parse_time);
            let recent =
                ends_at.is_some_and(|t| now.duration_since(t).unwrap_or_default() <= EXPIRED_KEPT);
            (state != SilenceState::Expired || recent).then(|| Silence {
                id: s.id,
                matchers: s.matchers,
                starts_at: s.starts_at.as_deref().and_then(parse_time),
                ends_at,
                updated_at: s.updated_at.as_deref().and_then(parse_time),
                created_by: s.created_by,
                comment: s.comment,
                state,
            })
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.starts_at));
    Ok(out)
}

/// What `/api/v2/status` says about the server itself.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ServerStatus {
    pub version: Option<String>,
    /// `ready`, `settling` or `disabled` (a single instance).
    pub cluster: Option<String>,
    pub peers: u32,
}

pub fn parse_status(body: &[u8]) -> Result<ServerStatus, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Raw {
        #[serde(default)]
        cluster: Option<RawCluster>,
        #[serde(default)]
        version_info: Option<RawVersion>,
    }
    #[derive(Deserialize)]
    struct RawCluster {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        peers: Vec<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct RawVersion {
        #[serde(default)]
        version: Option<String>,
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| what(&e, "/api/v2/status"))?;
    Ok(ServerStatus {
        version: raw.version_info.and_then(|v| v.version),
        peers: raw
            .cluster
            .as_ref()
            .map_or(0, |c| u32::try_from(c.peers.len()).unwrap_or(u32::MAX)),
        cluster: raw.cluster.and_then(|c| c.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str = r#"[
      {"labels":{"alertname":"HostDown"},"receiver":{"name":"chat"},"alerts":[
        {"fingerprint":"a1","labels":{"alertname":"HostDown","instance":"db-1:9100","severity":"critical"},
         "annotations":{"summary":"db-1 is down"},"startsAt":"2024-05-01T10:00:00.123Z",
         "endsAt":"2024-05-01T10:10:00Z","updatedAt":"2024-05-01T10:05:00Z",
         "status":{"state":"active","silencedBy":[],"inhibitedBy":[]},"receivers":[{"name":"chat"}]},
        {"fingerprint":"a2","labels":{"alertname":"HostDown","instance":"web-1:9100"},
         "annotations":{},"startsAt":"2024-05-01T10:01:00+02:00",
         "status":{"state":"suppressed","silencedBy":["s1"],"inhibitedBy":[]},"receivers":[{"name":"chat"}]}
      ]},
      {"labels":{"alertname":"HostDown"},"receiver":{"name":"pager"},"alerts":[
        {"fingerprint":"a1","labels":{"alertname":"HostDown","instance":"db-1:9100","severity":"critical"},
         "annotations":{},"startsAt":"2024-05-01T10:00:00Z",
         "status":{"state":"active","silencedBy":[],"inhibitedBy":[]},"receivers":[{"name":"pager"}]}
      ]}
    ]"#;

    #[test]
    fn groups_keep_each_alert_once() {
        let set = parse_groups(GROUPS.as_bytes()).expect("parses");
        assert_eq!(set.alerts.len(), 2);
        assert_eq!(set.groups.len(), 2);
        assert_eq!(
            set.groups[1].alerts,
            [0],
            "the pager group points at the same alert"
        );
        assert_eq!(set.groups[1].receiver, "pager");
        let a = &set.alerts[0];
        assert_eq!(
            (a.name(), a.severity(), a.summary()),
            ("HostDown", "critical", "db-1 is down")
        );
        assert!(a.is_firing());
        let t = a.starts_at.expect("time");
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch");
        assert_eq!(secs.as_millis(), 1_714_557_600_123);
        assert!(set.alerts[1].is_silenced());
        assert_eq!(set.alerts[1].state, AlertState::Suppressed);
        assert_eq!(
            set.alerts[1].starts_at,
            parse_time("2024-05-01T08:01:00Z"),
            "offsets are honoured"
        );
    }

    #[test]
    fn garbage_is_an_error_that_names_the_page() {
        let e = parse_groups(b"<html>502</html>").unwrap_err();
        assert!(e.contains("/api/v2/alerts/groups"), "{e}");
        assert!(parse_groups(b"{\"status\":\"success\"}").is_err());
        assert!(
            parse_silences(b"[{}]", SystemTime::now()).is_err(),
            "a silence needs an id"
        );
    }

    #[test]
    fn silences_keep_the_live_and_the_recently_expired() {
        let body = r#"[
          {"id":"s1","matchers":[{"name":"instance","value":"web-1:9100","isRegex":false,"isEqual":true}],
           "startsAt":"2024-05-01T10:00:00Z","endsAt":"2024-05-01T12:00:00Z","updatedAt":"2024-05-01T10:00:00Z",
           "createdBy":"mei","comment":"reboot","status":{"state":"active"}},
          {"id":"s0","matchers":[{"name":"job","value":"node","isRegex":false}],
           "startsAt":"2024-04-01T10:00:00Z","endsAt":"2024-04-01T12:00:00Z",
           "createdBy":"old","comment":"","status":{"state":"expired"}},
          {"id":"s2","matchers":[],"startsAt":"2024-05-01T09:00:00Z","endsAt":"2024-05-01T10:30:00Z",
           "createdBy":"alex","comment":"","status":{"state":"expired"}}
        ]"#;
        let now = parse_time("2024-05-01T11:00:00Z").expect("time");
        let s = parse_silences(body.as_bytes(), now).expect("parses");
        let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s1", "s2"]);
        assert_eq!(s[0].state, SilenceState::Active);
        assert_eq!(s[0].matchers[0].display(), "instance=\"web-1:9100\"");
        assert!(s[0].matchers[0].is_equal);
    }

    #[test]
    fn status_keeps_nothing_of_the_config() {
        let body = r#"{"cluster":{"name":"x","status":"ready","peers":[{"address":"a","name":"n"}]},
          "config":{"original":"smtp_auth_password: hunter2"},"versionInfo":{"version":"0.25.0"},
          "uptime":"2024-05-01T10:00:00Z"}"#;
        let s = parse_status(body.as_bytes()).expect("parses");
        assert_eq!(s.version.as_deref(), Some("0.25.0"));
        assert_eq!((s.cluster.as_deref(), s.peers), (Some("ready"), 1));
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
