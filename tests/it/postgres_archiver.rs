//! WAL archiver health against a real Postgres with `archive_mode=on`: an
//! `archive_command` that fails (`false`), then one that succeeds (`true`). The incident
//! class: a failing archiver keeps every WAL segment in pg_wal until the disk is full.

use crate::support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::{Level, Reading};
use mastop::sources::postgres::{PostgresReading, PostgresSource, Tiers};
use mastop::sources::{Schedule, Source};
use support::{Postgres, PostgresOptions};

const HANG_GUARD: Duration = Duration::from_secs(30);
/// Bounds the waits for the archiver to try (it retries within seconds of a WAL switch).
const MAX_ATTEMPTS: usize = 300;

fn source(url: &str, slow: Duration) -> PostgresSource {
    let endpoint: EndpointConfig = toml::from_str(&format!("name = \"db\"\nurl = \"{url}\""))
        .expect("a minimal endpoint parses");
    PostgresSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
    .with_tiers(Tiers {
        slow,
        ..Tiers::default()
    })
}

async fn poll(source: &mut PostgresSource) -> PostgresReading {
    let reading = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
        .unwrap_or_else(|e| panic!("poll failed: {e}"));
    reading
        .as_any()
        .downcast_ref::<PostgresReading>()
        .expect("a PostgresReading")
        .clone()
}

fn switch_wal(pg: &Postgres) {
    pg.psql("CREATE TABLE IF NOT EXISTS churn (n int); INSERT INTO churn SELECT generate_series(1, 1000); SELECT pg_switch_wal();");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_archive_command_is_critical_and_recovery_is_seen() {
    // The command line outranks ALTER SYSTEM, so the archive command is a script whose
    // one line goes from `false` to `true`.
    let scripts = tempfile::tempdir().expect("a temp dir");
    let script = scripts.path().join("archive.sh");
    std::fs::write(&script, "false\n").expect("write the archive script");
    let pg = Postgres::start_with(PostgresOptions {
        settings: vec![
            ("archive_mode".into(), "on".into()),
            ("archive_command".into(), format!("sh {}", script.display())),
        ],
        ..PostgresOptions::default()
    });
    let mut src = source(&pg.url(), Duration::ZERO);
    let first = poll(&mut src).await;
    let a = first.views.archiver.clone().expect("archiver read");
    assert_eq!(a.archive_mode, "on");
    assert_eq!(a.failed_since_last, None, "nothing to compare with yet");

    switch_wal(&pg);
    let mut failing = None;
    for _ in 0..MAX_ATTEMPTS {
        let r = poll(&mut src).await;
        if r.views
            .archiver
            .as_ref()
            .is_some_and(|a| a.failed_count > 0)
        {
            failing = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = failing.expect("the archiver never reported a failure");
    let a = r.views.archiver.clone().expect("archiver");
    assert!(a.failing(), "{a:?}");
    let wal = a.last_failed_wal.clone().expect("the failed WAL is named");
    let crit = r
        .findings()
        .into_iter()
        .find(|f| f.message.contains("WAL archiving is failing"))
        .expect("a finding");
    assert_eq!(crit.level, Level::Crit);
    assert!(crit.message.contains(&wal), "{}", crit.message);
    assert!(a.failed_since_last.is_some_and(|n| n > 0), "{a:?}");
    assert!(format!("{:?}", r.detail()).contains("WAL archiver"));

    std::fs::write(&script, "true\n").expect("rewrite the archive script");
    switch_wal(&pg);
    let mut recovered = None;
    for _ in 0..MAX_ATTEMPTS {
        let r = poll(&mut src).await;
        if r.views
            .archiver
            .as_ref()
            .is_some_and(|a| a.archived_count > 0 && !a.failing())
        {
            recovered = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = recovered.expect("archiving never recovered");
    let a = r.views.archiver.clone().expect("archiver");
    assert!(a.last_archived_wal.is_some());
    assert!(a.last_archived_age_s.is_some_and(|s| s >= 0.0));
    assert!(
        !r.findings()
            .iter()
            .any(|f| f.message.contains("WAL archiving is failing")),
        "{:?}",
        r.findings()
    );
}

/// On the slow tier the archiver is read once and kept: a failure the server reports
/// after that first read does not show until the tier comes round again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archiver_is_read_on_the_slow_tier_only() {
    let pg = Postgres::start_with(PostgresOptions {
        settings: vec![
            ("archive_mode".into(), "on".into()),
            ("archive_command".into(), "false".into()),
        ],
        ..PostgresOptions::default()
    });
    let mut src = source(&pg.url(), Duration::from_secs(24 * 3600));
    let first = poll(&mut src).await;
    assert_eq!(
        first.views.archiver.as_ref().map(|a| a.failed_count),
        Some(0)
    );
    switch_wal(&pg);
    let mut server_failed = false;
    for _ in 0..MAX_ATTEMPTS {
        if pg
            .psql("SELECT failed_count > 0 FROM pg_stat_archiver")
            .trim()
            == "t"
        {
            server_failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(server_failed, "the archiver never failed");
    let later = poll(&mut src).await;
    assert_eq!(
        later.views.archiver.as_ref().map(|a| a.failed_count),
        Some(0),
        "not re-read before the slow tier is due"
    );
}
