//! Known log signatures as a host's figure and health, for real: journal files built by
//! `systemd-journal-remote`, read by the host poll's own SSH master through the harness's
//! real sshd, once a minute, reduced to names and counts before they reach the reading.

use crate::support;

use std::time::{Duration, SystemTime};

use mastop::engine::{Engine, Options};
use mastop::model::{Level, Reading};
use mastop::sources::SourceSpec;
use mastop::sources::host::HostReading;
use mastop::sources::scheduler::poll_bounded;
use support::Sshd;
use support::journal::{Entry, now_us, write_journal};

const SEC: i64 = 1_000_000;
const MISCONF: &str = "Redis::CommandError (MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.)";

/// web-1's journal: 120 MISCONF in the last minute (one carrying a member's address), 50
/// more five minutes ago, and a flood in a unit web-1 does not watch.
fn incident(now: i64) -> Vec<Entry> {
    let mut entries: Vec<Entry> = (0..120)
        .map(|i| {
            Entry::new(
                now - 50 * SEC + i * 300_000,
                "mastodon-web.service",
                3,
                MISCONF,
            )
        })
        .collect();
    entries.push(Entry::new(
        now - 40 * SEC,
        "mastodon-web.service",
        6,
        "Delivered mail to alice@example.org from 203.0.113.7 token=abcd1234efgh5678",
    ));
    entries.extend(
        (0..50).map(|i| Entry::new(now - 5 * 60 * SEC + i, "mastodon-web.service", 3, MISCONF)),
    );
    entries.extend((0..30).map(|i| {
        Entry::new(
            now - 30 * SEC + i,
            "nginx.service",
            3,
            "upstream timed out (110: Connection timed out)",
        )
    }));
    // journald appends in time order, and journalctl seeks `--since` assuming it.
    entries.sort_by_key(|e| e.at_us);
    entries
}

/// A config naming the harness's sshd as web-1 (a web host with its firewall up), its
/// journal directory, and MISCONF's lines moved to `warn`/`crit` a minute.
fn config(sshd: &Sshd, journal: &std::path::Path, warn: u32, crit: u32) -> String {
    format!(
        "{}journal_directory = \"{}\"\n\n[[logs.signature]]\nname = \"Redis MISCONF\"\npattern = \"MISCONF Redis is configured to save\"\nwarn_per_min = {warn}\ncrit_per_min = {crit}\n",
        sshd.config_toml("web-1", &["mastodon-web"]),
        journal.display()
    )
}

fn web_sshd() -> Sshd {
    Sshd::start_logging_commands(&[
        ("mastodon-web.service", "active", "running"),
        ("nftables.service", "active", "exited"),
    ])
}

fn load(text: &str) -> mastop::config::Config {
    let env: Vec<(String, String)> = Vec::new();
    mastop::config::load_str(text, "mastop.toml", &env)
        .expect("config loads")
        .0
}

async fn poll(spec: &mut SourceSpec) -> HostReading {
    let reading = poll_bounded(spec)
        .await
        .expect("poll within its deadline")
        .expect("poll ok");
    reading
        .as_any()
        .downcast_ref::<HostReading>()
        .expect("a host reading")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosts_poll_counts_known_signatures_in_its_journal_once_a_minute() {
    let sshd = web_sshd();
    let journal = sshd.dir().join("journal");
    write_journal(&journal, &incident(now_us()));
    let engine = Engine::new(
        load(&config(&sshd, &journal, 100, 1000)),
        Options::default(),
    );
    let mut specs = engine.sources();
    let mut fleet = engine.fleet_for(&specs);
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id.as_str() == "host/web-1")
        .expect("web-1's source");

    let reading = poll(spec).await;
    let rates = reading
        .log_signatures
        .as_ref()
        .expect("signatures were read");
    assert_eq!(reading.log_signatures_unread, None);
    // The last minute only, the watched units only: 120 MISCONF and one everyday line.
    assert_eq!(rates.lines_read, 121);
    assert!(!rates.capped);
    let seen: Vec<(&str, u64)> = rates
        .seen
        .iter()
        .map(|r| (r.name.as_str(), r.per_min))
        .collect();
    assert_eq!(seen, [("Redis MISCONF", 120)]);
    let figure = reading
        .figures()
        .into_iter()
        .find(|f| f.key == "log_signature_per_min")
        .expect("the signature figure");
    assert_eq!(figure.value, 120.0);
    let finding = reading
        .findings()
        .into_iter()
        .find(|f| f.message.contains("MISCONF"))
        .expect("a MISCONF finding");
    assert_eq!(finding.level, Level::Warn);
    assert_eq!(finding.message, "120 Redis MISCONF/min");

    // Through the engine's fleet and thresholds, as every front end judges it.
    fleet.apply(
        &spec.meta.id,
        mastop::engine::poll::answered(SystemTime::now(), Duration::from_secs(60)),
        Some(std::sync::Arc::new(reading.clone())),
    );
    let health = &fleet.get(&spec.meta.id).expect("web-1 in the fleet").health;
    assert!(health.level >= Level::Warn, "{health:?}");
    assert!(
        health.reasons.iter().any(|r| r == "120 Redis MISCONF/min"),
        "{health:?}"
    );

    // Names and counts only: no line, and nothing of the member's, in what is kept.
    let json = reading.to_json().to_string();
    for text in [
        "alice",
        "203.0.113.7",
        "abcd1234",
        "RDB snapshots",
        "Delivered",
    ] {
        assert!(!json.contains(text), "{text} in {json}");
    }
    let detail = format!("{:?}", reading.detail());
    assert!(detail.contains("120 Redis MISCONF/min"), "{detail}");
    assert!(!detail.contains("alice") && !detail.contains("RDB snapshots"));

    // One master, two channels: the poll's script, then the journal's one command.
    assert_eq!(sshd.open_masters(), 1);
    let sent = sshd.command_lines();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].starts_with("timeout --kill-after=1 ") && sent[1].contains(" journalctl "),
        "{}",
        sent[1]
    );
    assert!(
        sent[1].contains("--unit=mastodon-web.service"),
        "{}",
        sent[1]
    );
    assert!(!sent[1].contains("nginx"), "{}", sent[1]);

    // The next poll, within the minute, reads no journal and keeps the counts.
    let again = poll(spec).await;
    assert_eq!(sshd.command_lines().len(), 3);
    assert_eq!(again.log_signatures, reading.log_signatures);
    assert_eq!(sshd.open_masters(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_journal_is_said_in_the_detail_and_a_crit_rate_is_crit() {
    let sshd = web_sshd();
    let journal = sshd.dir().join("journal");
    write_journal(&journal, &incident(now_us()));
    let engine = Engine::new(load(&config(&sshd, &journal, 10, 100)), Options::default());
    let mut specs = engine.sources();
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id.as_str() == "host/web-1")
        .expect("web-1's source");
    let reading = poll(spec).await;
    let finding = reading
        .findings()
        .into_iter()
        .find(|f| f.message.contains("MISCONF"))
        .expect("a MISCONF finding");
    assert_eq!(
        (finding.level, finding.message.as_str()),
        (Level::Crit, "120 Redis MISCONF/min")
    );

    // A journal directory that is not there: the host is still read, the reason shown.
    let missing = format!(
        "{}journal_directory = \"/nonexistent/journal\"\n",
        sshd.config_toml("web-1", &["mastodon-web"])
    );
    let engine = Engine::new(load(&missing), Options::default());
    let mut specs = engine.sources();
    let spec = specs
        .iter_mut()
        .find(|s| s.meta.id.as_str() == "host/web-1")
        .expect("web-1's source");
    let reading = poll(spec).await;
    assert_eq!(reading.log_signatures, None);
    let why = reading
        .log_signatures_unread
        .as_deref()
        .expect("why the journal is unread");
    assert!(why.contains("journal_directory"), "{why}");
    assert!(
        !reading
            .figures()
            .iter()
            .any(|f| f.key == "log_signature_per_min")
    );
    let detail = format!("{:?}", reading.detail());
    assert!(detail.contains("unread: journal of web-1"), "{detail}");
}
