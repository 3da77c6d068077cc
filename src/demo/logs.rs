//! The demo fleet's journals: Mastodon-shaped lines for every simulated host, tied to the
//! scripted incidents, so the log view has something true to the story with no SSH.
//!
//! While redis-1's RDB directory is full mastodon-web answers with Redis `MISCONF` and Redis
//! logs its failed saves; while redis-1's firewall is down after its reboot streaming
//! floods "Tried writing to closed socket", Sidekiq cannot connect and the edges' nginx
//! times out upstream; while db-1's archive volume fills,
//! Postgres turns clients away ("remaining connection slots are reserved"). Everyday lines
//! carry the members' data real ones do (e-mail addresses, client IPs, access tokens), so
//! redaction has something to hide.
//!
//! Every line is a function of its demo second, host and unit: the same window read twice
//! gives the same lines.

use crate::logs::query::UnitPattern;
use crate::logs::signatures::{SignatureRates, Signatures};
use crate::logs::{LogLine, Priority};

use super::clock::{self, Anchor};
use super::script::at;

/// The simulated hosts with a journal: name, role, units.
pub const HOSTS: &[(&str, &str, &[&str])] = &[
    ("web-1", "mastodon-web", &["mastodon-web.service"]),
    ("web-2", "mastodon-web", &["mastodon-web.service"]),
    (
        "streaming-1",
        "mastodon-streaming",
        &["mastodon-streaming.service"],
    ),
    (
        "sidekiq-1",
        "mastodon-sidekiq",
        &[
            "mastodon-sidekiq-default.service",
            "mastodon-sidekiq-pull@1.service",
        ],
    ),
    (
        "sidekiq-2",
        "mastodon-sidekiq",
        &[
            "mastodon-sidekiq-push.service",
            "mastodon-sidekiq-pull@2.service",
        ],
    ),
    ("db-1", "postgres-primary", &["postgresql@16-main.service"]),
    ("db-2", "postgres-replica", &["postgresql@16-main.service"]),
    ("redis-1", "redis", &["redis-server.service"]),
    ("fremont-1", "edge", &["nginx.service"]),
    ("tokyo-1", "edge", &["nginx.service"]),
];

/// Lines before the newest that a tail shows at most.
const TAIL_SECONDS: i64 = 300;

const USERS: &[&str] = &[
    "alice@example.social",
    "bob.k@mail.example.org",
    "carol+mastodon@example.net",
    "dmitri@example.com",
];
const CLIENTS: &[&str] = &[
    "203.0.113.7",
    "198.51.100.23",
    "2001:db8::4a2f:1",
    "192.0.2.144",
];
const PATHS: &[&str] = &[
    "/api/v1/timelines/home",
    "/api/v1/notifications",
    "/api/v2/search",
    "/api/v1/statuses",
    "/@alice/113504882211930417",
];

/// The hosts `target` names: demo hosts joined by `,`, or `role:NAME` for every host with
/// that role.
pub fn resolve(target: &str) -> Result<Vec<&'static str>, String> {
    let chosen: Vec<&'static str> = match target.strip_prefix("role:") {
        Some(role) => HOSTS
            .iter()
            .filter(|(_, r, _)| *r == role)
            .map(|(n, ..)| *n)
            .collect(),
        None => {
            let names: Vec<&str> = target.split(',').collect();
            let chosen: Vec<&'static str> = HOSTS
                .iter()
                .filter(|(n, ..)| names.contains(n))
                .map(|(n, ..)| *n)
                .collect();
            if chosen.len() < names.len() {
                Vec::new()
            } else {
                chosen
            }
        }
    };
    if chosen.is_empty() {
        let names: Vec<&str> = HOSTS.iter().map(|(n, ..)| *n).collect();
        return Err(format!(
            "`{}` is not a demo host (or `role:NAME` of one): the demo has {}",
            crate::sanitize::sanitize_truncated(target, 80),
            names.join(", ")
        ));
    }
    Ok(chosen)
}

/// Every line the demo's `hosts` wrote to `units` in `[from_us, to_us)`, in time order.
/// Demo time is placed on the calendar by `anchor`.
pub fn between(
    hosts: &[&str],
    units: &[UnitPattern],
    anchor: Anchor,
    from_us: i64,
    to_us: i64,
) -> Vec<LogLine> {
    let zero = anchor.zero_unix().floor() as i64;
    let first = from_us.div_euclid(1_000_000);
    let last = (to_us - 1).div_euclid(1_000_000);
    let mut out = Vec::new();
    for sec in first..=last {
        let n = sec - zero;
        for (h, (name, _, host_units)) in HOSTS.iter().enumerate() {
            if !hosts.contains(name) {
                continue;
            }
            for (u, unit) in host_units.iter().enumerate() {
                if !units.iter().any(|p| glob(p.as_str(), unit)) {
                    continue;
                }
                let seed = mix(n as u64 ^ ((h as u64) << 40) ^ ((u as u64) << 52));
                for (i, (priority, message)) in second(name, unit, n, seed).into_iter().enumerate()
                {
                    let at_us = sec * 1_000_000 + ((mix(seed ^ i as u64) % 1_000_000) as i64);
                    if at_us < from_us || at_us >= to_us {
                        continue;
                    }
                    out.push(LogLine {
                        at_us,
                        host: (*name).to_string(),
                        unit: (*unit).to_string(),
                        priority: Priority::new(priority),
                        message,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| (a.at_us, &a.host).cmp(&(b.at_us, &b.host)));
    out
}

/// The last `max_lines` lines of the last few minutes before `to_us`.
pub fn tail(
    hosts: &[&str],
    units: &[UnitPattern],
    anchor: Anchor,
    to_us: i64,
    max_lines: usize,
) -> Vec<LogLine> {
    let mut lines = between(
        hosts,
        units,
        anchor,
        to_us - TAIL_SECONDS * 1_000_000,
        to_us,
    );
    let excess = lines.len().saturating_sub(max_lines);
    lines.drain(..excess);
    lines
}

/// Known signatures in what demo host `host` wrote over the minute before demo second
/// `end`, counted as a real host's poll counts its journal (`lines_read` counts the
/// incidents' lines, the only ones looked at).
pub fn signature_rates(host: &str, end: i64) -> Option<SignatureRates> {
    static SIGNATURES: std::sync::OnceLock<Signatures> = std::sync::OnceLock::new();
    let signatures = SIGNATURES.get_or_init(Signatures::shipped);
    let h = HOSTS.iter().position(|(name, ..)| *name == host)?;
    let (name, _, units) = HOSTS[h];
    let mut messages = Vec::new();
    for n in (end - 60)..end {
        // Everyday lines carry no signature: only the incidents' seconds are written out,
        // which keeps an hour of demo history cheap to compute.
        if !incident_second(n) {
            continue;
        }
        for (u, unit) in units.iter().enumerate() {
            let seed = mix(n as u64 ^ ((h as u64) << 40) ^ ((u as u64) << 52));
            messages.extend(second(name, unit, n, seed).into_iter().map(|(_, m)| m));
        }
    }
    Some(signatures.rates(messages.iter().map(String::as_str), 0))
}

/// Whether any scripted incident that writes a known signature is on in demo second `n`.
fn incident_second(n: i64) -> bool {
    let (redis_down, rdb_failing, archive_full) = incidents(n);
    redis_down || rdb_failing || archive_full
}

/// The incidents that change what the journals say in demo second `n`: redis-1 down, its
/// RDB saves failing, db-1's archive volume full.
fn incidents(n: i64) -> (bool, bool, bool) {
    // A second before the demo's start is the end of the previous cycle.
    let cycle = i64::try_from(clock::CYCLE.as_secs())
        .unwrap_or(i64::MAX)
        .max(1);
    let s = clock::script_secs(std::time::Duration::from_secs(n.rem_euclid(cycle) as u64));
    (
        (at::REDIS_HOST_REBOOT..at::NFTABLES_RESTORED).contains(&s),
        (at::RDB_FAILING..at::RDB_FIXED).contains(&s),
        (250.0..at::ARCHIVE_CLEANED).contains(&s),
    )
}

/// What one unit on one host wrote in demo second `n`.
fn second(host: &str, unit: &str, n: i64, seed: u64) -> Vec<(u8, String)> {
    let (redis_down, rdb_failing, archive_full) = incidents(n);
    let pick =
        |list: &[&'static str], salt: u64| list[(mix(seed ^ salt) % list.len() as u64) as usize];
    let token = format!("{:016x}{:016x}", mix(seed ^ 7), mix(seed ^ 8));
    let mut out = Vec::new();
    match unit {
        "mastodon-web.service" => {
            for i in 0..(1 + seed % 3) {
                let path = pick(PATHS, 10 + i);
                let ms = 20 + mix(seed ^ (20 + i)) % 180;
                out.push((
                    6,
                    format!(
                        "method=GET path={path} format=json status=200 duration={ms}.{:02} remote_ip={}",
                        seed % 100,
                        pick(CLIENTS, 30 + i)
                    ),
                ));
            }
            if seed.is_multiple_of(17) {
                out.push((
                    6,
                    format!(
                        "Delivered mail to {} (confirmation instructions)",
                        pick(USERS, 40)
                    ),
                ));
            }
            if seed.is_multiple_of(23) {
                out.push((
                    6,
                    format!("Started GET \"/api/v1/streaming/health?access_token={token}\""),
                ));
            }
            if rdb_failing {
                for _ in 0..(2 + seed % 3) {
                    out.push((
                        3,
                        "Redis::CommandError (MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled.)".into(),
                    ));
                }
            }
        }
        "mastodon-streaming.service" => {
            if redis_down {
                for _ in 0..(12 + seed % 10) {
                    out.push((3, "ERR! Tried writing to closed socket".into()));
                }
            } else {
                out.push((
                    6,
                    format!(
                        "Subscription to user:{} from {} (Authorization: Bearer {token})",
                        100_000 + mix(seed ^ 50) % 900_000,
                        pick(CLIENTS, 51)
                    ),
                ));
            }
        }
        u if u.starts_with("mastodon-sidekiq") => {
            if redis_down {
                out.push((
                    3,
                    "Redis::CannotConnectError: Error connecting to Redis on redis-1:6379 (Errno::ETIMEDOUT)".into(),
                ));
            } else {
                let class = if u.contains("pull") {
                    "LinkCrawlWorker"
                } else if u.contains("push") {
                    "ActivityPub::DeliveryWorker"
                } else {
                    "ActionMailer::MailDeliveryJob"
                };
                out.push((
                    6,
                    format!(
                        "class={class} jid={:024x} INFO: done: {}.{:03} sec",
                        mix(seed ^ 60) as u128,
                        mix(seed ^ 61) % 3,
                        mix(seed ^ 62) % 1000
                    ),
                ));
                if class == "ActionMailer::MailDeliveryJob" && seed.is_multiple_of(5) {
                    out.push((6, format!("Sent mail to {}", pick(USERS, 63))));
                }
            }
        }
        u if u.starts_with("postgresql") => {
            if archive_full && host == "db-1" {
                for _ in 0..(1 + seed % 3) {
                    out.push((
                        3,
                        "FATAL:  remaining connection slots are reserved for non-replication superuser connections".into(),
                    ));
                }
            }
            if seed.is_multiple_of(11) {
                out.push((
                    6,
                    "LOG:  connection authorized: user=mastodon database=mastodon_production application_name=puma host=10.0.0.12".into(),
                ));
            }
            if seed.is_multiple_of(29) {
                out.push((
                    4,
                    format!(
                        "ERROR:  duplicate key value violates unique constraint \"index_users_on_email\" DETAIL:  Key (email)=({}) already exists.",
                        pick(USERS, 70)
                    ),
                ));
            }
        }
        "redis-server.service" => {
            if rdb_failing && seed.is_multiple_of(4) {
                out.push((
                    4,
                    "Background saving error: Failed opening the RDB file dump.rdb (in server root dir /var/lib/redis) for saving: No space left on device".into(),
                ));
            } else if seed.is_multiple_of(60) {
                out.push((5, "100 changes in 300 seconds. Saving...".into()));
            }
        }
        "nginx.service" => {
            if redis_down {
                out.push((
                    3,
                    format!(
                        "*{} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {}, request: \"GET /api/v1/timelines/home?access_token={token} HTTP/2.0\", upstream: \"http://10.0.0.11:3000/api/v1/timelines/home\"",
                        mix(seed ^ 80) % 100_000,
                        pick(CLIENTS, 81)
                    ),
                ));
            }
            out.push((
                6,
                format!(
                    "{} - - \"GET {} HTTP/2.0\" 200 {}",
                    pick(CLIENTS, 82),
                    pick(PATHS, 83),
                    300 + mix(seed ^ 84) % 9000
                ),
            ));
        }
        _ => {}
    }
    out
}

/// journalctl's `-u` globs: `*` any run, `?` one character. Matched in time linear in
/// the product of the lengths, whatever the pattern.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        // can[j]: the pattern so far matches the first j characters of the name.
        let mut can = vec![false; n.len() + 1];
        can[0] = true;
        for pc in p {
            let mut next = vec![false; n.len() + 1];
            for j in 0..=n.len() {
                next[j] = match pc {
                    '*' => can[j] || (j > 0 && next[j - 1]),
                    '?' => j > 0 && can[j - 1],
                    c => j > 0 && can[j - 1] && n[j - 1] == *c,
                };
            }
            can = next;
        }
        can[n.len()]
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // `-u mastodon-web` means `mastodon-web.service`, as journalctl reads it.
    let stem = n.iter().rposition(|c| *c == '.').unwrap_or(n.len());
    go(&p, &n) || (!pattern.contains('.') && go(&p, &n[..stem]))
}

/// splitmix64: a fixed, well-spread hash, so a second's lines never depend on a global RNG.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {

    #[test]
    fn globs_match_like_journalctl_and_stay_quick_on_hostile_patterns() {
        assert!(glob("mastodon-sidekiq*", "mastodon-sidekiq-pull@1.service"));
        assert!(glob("mastodon-web", "mastodon-web.service"));
        assert!(glob(
            "redis-server@?ache.service",
            "redis-server@cache.service"
        ));
        assert!(!glob("mastodon-web", "mastodon-streaming.service"));
        // Exponential for a backtracking matcher; linear-by-length here.
        let stars = "*a".repeat(120) + "b";
        assert!(!glob(&stars, &"a".repeat(200)));
    }

    use super::*;
    use std::time::{Duration, SystemTime};

    fn units(list: &[&str]) -> Vec<UnitPattern> {
        list.iter()
            .map(|u| UnitPattern::parse(u).unwrap())
            .collect()
    }

    fn anchor_at(script: u64) -> (Anchor, i64) {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let anchor = Anchor::new(Duration::from_secs(script), now);
        (anchor, 1_795_000_000 * 1_000_000)
    }

    #[test]
    fn the_redis_incidents_show_in_web_streaming_sidekiq_and_the_edges() {
        let (anchor, now) = anchor_at(500);
        let all: Vec<&str> = HOSTS.iter().map(|(n, ..)| *n).collect();
        let lines = between(&all, &units(&["*.service"]), anchor, now - 60_000_000, now);
        let has = |host: &str, text: &str| {
            lines
                .iter()
                .any(|l| l.host == host && l.message.contains(text))
        };
        assert!(has("web-1", "MISCONF"));
        assert!(has("streaming-1", "Tried writing to closed socket"));
        assert!(has("sidekiq-2", "Redis::CannotConnectError"));
        assert!(has("tokyo-1", "upstream timed out"));
        assert!(lines.windows(2).all(|w| w[0].at_us <= w[1].at_us));
        let again = between(&all, &units(&["*.service"]), anchor, now - 60_000_000, now);
        assert_eq!(lines, again, "the same window gives the same lines");
    }

    #[test]
    fn a_hosts_signature_rates_are_its_journals_last_minute_counted() {
        let signatures = Signatures::shipped();
        for script in [100, 300, 460, 500, 560] {
            let (anchor, now) = anchor_at(script);
            for (host, ..) in HOSTS {
                let lines = between(
                    &[host],
                    &units(&["*.service"]),
                    anchor,
                    now - 60_000_000,
                    now,
                );
                let expected = signatures
                    .rates(lines.iter().map(|l| l.message.as_str()), 0)
                    .seen;
                let rates = signature_rates(host, script as i64).unwrap();
                assert_eq!(rates.seen, expected, "{host} at {script}");
            }
        }
        let misconf = signature_rates("web-1", 460).unwrap();
        let worst = misconf.worst().unwrap();
        assert_eq!(worst.name, "Redis MISCONF");
        assert!(worst.per_min >= 40, "{worst:?}");
        assert!(signature_rates("web-1", 100).unwrap().seen.is_empty());
        assert!(signature_rates("mail-9", 100).is_none());
    }

    #[test]
    fn quiet_times_have_no_incident_lines_and_roles_and_globs_select() {
        let (anchor, now) = anchor_at(100);
        let web = resolve("role:mastodon-web").unwrap();
        assert_eq!(web, ["web-1", "web-2"]);
        let lines = between(
            &web,
            &units(&["mastodon-web"]),
            anchor,
            now - 60_000_000,
            now,
        );
        assert!(!lines.is_empty());
        assert!(lines.iter().all(|l| !l.message.contains("MISCONF")));
        assert!(between(&web, &units(&["nginx*"]), anchor, now - 60_000_000, now).is_empty());
        assert!(resolve("mail-9").unwrap_err().contains("web-1"));
        assert_eq!(resolve("tokyo-1,web-2").unwrap(), ["web-2", "tokyo-1"]);
        assert!(resolve("web-2,mail-9").is_err());
        let tail = tail(&web, &units(&["mastodon-web*"]), anchor, now, 25);
        assert_eq!(tail.len(), 25);
    }

    #[test]
    fn half_an_hour_of_the_fleet_fills_a_full_log_view() {
        let (anchor, now) = anchor_at(539);
        let all: Vec<&str> = HOSTS.iter().map(|(n, ..)| *n).collect();
        let lines = between(
            &all,
            &units(&["*.service"]),
            anchor,
            now - 1_800_000_000,
            now,
        );
        assert!(lines.len() > 10_000, "{} lines", lines.len());
    }
}
