//! What only a Postgres server's hosts know, read over a real sshd: the filesystem under
//! `pg_wal` (weighed against the WAL a real replication slot retains) and backup freshness
//! from a real pgBackRest repository holding one full backup of a harness cluster whose
//! `archive_command` is `pgbackrest archive-push`.

use crate::support;

use std::time::Duration;

use mastop::config::Config;
use mastop::model::{Level, Reading};
use mastop::sources::postgres::host_reads::HostLinks;
use mastop::sources::postgres::{PostgresReading, PostgresSource, Tiers};
use mastop::sources::{Schedule, Source};
use support::pgbackrest::Repository;
use support::{Postgres, PostgresOptions, Sshd};

const HANG_GUARD: Duration = Duration::from_secs(60);
/// Bounds the waits for the SSH reads, which finish in a task of their own.
const MAX_POLLS: usize = 300;
const WAL_SEGMENT: f64 = 16.0 * 1024.0 * 1024.0;

fn config(sshd: &Sshd, pg: &Postgres, extra: &str) -> Config {
    let text = format!(
        "{}\n[[postgres]]\nname = \"db\"\nurl = \"{}\"\nhost = \"db-1\"\n{extra}",
        sshd.config_toml("db-1", &["postgres-primary"]),
        pg.url()
    );
    mastop::config::load_str(&text, "test.toml", &[])
        .unwrap_or_else(|e| panic!("config: {e}"))
        .0
}

fn source(config: &Config) -> PostgresSource {
    PostgresSource::new(
        &config.postgres[0],
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
    .with_tiers(Tiers {
        slow: Duration::ZERO,
        ..Tiers::default()
    })
    .with_hosts(HostLinks::from_config(config, &config.postgres[0]))
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

async fn poll_until(
    source: &mut PostgresSource,
    what: &str,
    done: impl Fn(&PostgresReading) -> bool,
) -> PostgresReading {
    for _ in 0..MAX_POLLS {
        let r = poll(source).await;
        if done(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never showed");
}

fn switch_wal(pg: &Postgres) {
    pg.psql("CREATE TABLE IF NOT EXISTS churn (n int); INSERT INTO churn SELECT generate_series(1, 1000); SELECT pg_switch_wal();");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_retaining_wal_is_weighed_against_the_real_pg_wal_filesystem() {
    let pg = Postgres::start();
    let sshd = Sshd::start_logging_commands(&[]);
    pg.psql("SELECT pg_create_physical_replication_slot('stuck_standby', true)");
    for _ in 0..4 {
        switch_wal(&pg);
    }
    // A share so small that the few segments this slot holds cross it on any real disk.
    let config = config(
        &sshd,
        &pg,
        "slot_wal_warn_pct = 0.000001\nslot_wal_crit_pct = 100\n",
    );
    let mut src = source(&config);
    let r = poll_until(&mut src, "pg_wal's filesystem", |r| {
        r.views
            .wal_space
            .as_ref()
            .is_some_and(|w| w.filesystem.is_some() || w.error.is_some())
            && r.views.slots.is_some()
    })
    .await;
    let space = r.views.wal_space.clone().expect("read");
    let fs = space
        .filesystem
        .clone()
        .unwrap_or_else(|| panic!("df failed: {:?}", space.error));
    let wal_path = pg.dir().join("data/pg_wal");
    assert_eq!(fs.wal_path, wal_path.display().to_string());
    let stat = nix::sys::statvfs::statvfs(&wal_path).expect("statvfs of pg_wal");
    assert_eq!(
        fs.total_bytes,
        stat.blocks() as f64 * stat.fragment_size() as f64,
        "df's size is the filesystem's"
    );
    assert!(fs.free_bytes > 0.0 && fs.free_bytes <= fs.total_bytes);

    let slot = r
        .views
        .slots
        .as_ref()
        .and_then(|s| s.iter().find(|s| s.name == "stuck_standby"))
        .cloned()
        .expect("the slot is listed");
    assert!(!slot.active);
    let retained = slot.retained_bytes.expect("retained bytes");
    assert!(
        retained >= 3.0 * WAL_SEGMENT,
        "four WAL switches after the slot reserved WAL keep at least three segments: {retained}"
    );
    let found: Vec<_> = r
        .findings()
        .into_iter()
        .filter(|f| f.message.contains("still free on"))
        .collect();
    assert_eq!(found.len(), 1, "{:?}", r.findings());
    assert_eq!(found[0].level, Level::Warn);
    assert!(
        found[0]
            .message
            .starts_with("inactive replication slot stuck_standby retains"),
        "{}",
        found[0].message
    );
    assert!(format!("{:?}", r.detail()).contains("WAL space and backups"));

    let df_line = format!("timeout 5 df -P -B1 -- {}", wal_path.display());
    assert!(
        sshd.command_lines().contains(&df_line),
        "{:?}",
        sshd.command_lines()
    );

    // With the default shares the same slot is nothing to worry about on this disk.
    let calm = config_default(&sshd, &pg);
    let mut src = source(&calm);
    let r = poll_until(&mut src, "the filesystem again", |r| {
        r.views
            .wal_space
            .as_ref()
            .is_some_and(|w| w.filesystem.is_some())
            && r.views.slots.is_some()
    })
    .await;
    assert!(
        !r.findings()
            .iter()
            .any(|f| f.message.contains("still free on")),
        "{:?}",
        r.findings()
    );
}

fn config_default(sshd: &Sshd, pg: &Postgres) -> Config {
    config(sshd, pg, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_pgbackrest_full_backup_is_read_over_ssh_and_a_missing_stanza_is_critical() {
    let repo = Repository::new("main");
    let pg = Postgres::start_with(PostgresOptions {
        settings: vec![
            ("archive_mode".into(), "on".into()),
            ("archive_command".into(), repo.archive_command()),
            ("wal_level".into(), "replica".into()),
        ],
        ..PostgresOptions::default()
    });
    repo.configure(pg.dir(), pg.port());
    repo.run(&["stanza-create"]);
    repo.run(&["--type=full", "backup"]);

    let sshd = Sshd::start_logging_commands(&[]);
    sshd.fake_command("pgbackrest", &repo.wrapper_script());
    let config = config(&sshd, &pg, "stanza = \"main\"\n");
    let mut src = source(&config);
    let r = poll_until(&mut src, "the backups", |r| {
        r.views
            .backups
            .as_ref()
            .is_some_and(|b| b.stanza.is_some() || b.error.is_some())
    })
    .await;
    let b = r.views.backups.clone().expect("read");
    let stanza = b
        .stanza
        .clone()
        .unwrap_or_else(|| panic!("pgbackrest info failed: {:?}", b.error));
    assert_eq!(b.host, "db-1");
    assert_eq!(stanza.status_code, 0, "{}", stanza.status_message);
    assert_eq!(stanza.status_message, "ok");
    assert_eq!(stanza.count, 1);
    let full = stanza.last_full.clone().expect("the full backup");
    assert_eq!(full.kind, "full");
    assert!(full.label.ends_with('F'), "{}", full.label);
    assert_eq!(
        stanza.last_any.as_ref().map(|b| &b.label),
        Some(&full.label)
    );
    assert!(full.age_s < 86_400.0);
    assert!(
        !r.findings()
            .iter()
            .any(|f| f.message.contains("stanza main")),
        "{:?}",
        r.findings()
    );
    assert!(format!("{:?}", r.detail()).contains(&full.label));
    assert!(
        sshd.command_lines()
            .contains(&"pgbackrest --output=json --stanza=main info".to_string()),
        "{:?}",
        sshd.command_lines()
    );

    // A stanza the repository does not hold: pgBackRest answers with an error status.
    let missing = self::config(&sshd, &pg, "stanza = \"elsewhere\"\n");
    let mut src = source(&missing);
    let r = poll_until(&mut src, "the missing stanza", |r| {
        r.views
            .backups
            .as_ref()
            .is_some_and(|b| b.stanza.is_some() || b.error.is_some())
    })
    .await;
    let b = r.views.backups.clone().expect("read");
    let stanza = b
        .stanza
        .clone()
        .unwrap_or_else(|| panic!("pgbackrest info failed: {:?}", b.error));
    assert_ne!(stanza.status_code, 0);
    let crit: Vec<_> = r
        .findings()
        .into_iter()
        .filter(|f| {
            f.message
                .contains("pgBackRest stanza elsewhere is in error")
        })
        .collect();
    assert_eq!(crit.len(), 1, "{:?}", r.findings());
    assert_eq!(crit[0].level, Level::Crit);
}
