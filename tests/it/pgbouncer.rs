//! The PgBouncer source against a real PgBouncer (Debian package `pgbouncer`) in front of
//! a harness PostgreSQL.

use crate::support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::model::health::evaluate;
use mastop::model::{Level, Reading, Threshold};
use mastop::sources::pgbouncer::{PgBouncerReading, PgBouncerSource};
use mastop::sources::{PollError, Schedule, Source};
use support::Postgres;
use support::pgbouncer::{POOL_SIZE, PgBouncer};

const HANG_GUARD: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: usize = 2400;

fn source(url: &str) -> PgBouncerSource {
    let endpoint: EndpointConfig = toml::from_str(&format!("name = \"pool\"\nurl = \"{url}\""))
        .expect("a minimal endpoint parses");
    PgBouncerSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
        },
    )
}

async fn poll(src: &mut PgBouncerSource) -> Result<PgBouncerReading, PollError> {
    let reading = tokio::time::timeout(HANG_GUARD, src.poll())
        .await
        .expect("poll hung past the hang guard")?;
    Ok(reading
        .as_any()
        .downcast_ref::<PgBouncerReading>()
        .expect("a PgBouncerReading")
        .clone())
}

async fn poll_until(
    src: &mut PgBouncerSource,
    what: &str,
    done: impl Fn(&PgBouncerReading) -> bool,
) -> PgBouncerReading {
    for _ in 0..MAX_ATTEMPTS {
        let r = poll(src)
            .await
            .unwrap_or_else(|e| panic!("poll failed: {e}"));
        if done(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never saw {what}");
}

async fn app_client(bouncer: &PgBouncer) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&bouncer.url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect through PgBouncer: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_and_stats_appear_and_a_full_pool_is_flagged() {
    let pg = Postgres::start();
    let bouncer = PgBouncer::start(&pg);
    let mut src = source(&bouncer.admin_url("stats"));

    let app = app_client(&bouncer).await;
    for _ in 0..5 {
        app.simple_query("SELECT 1").await.expect("a pooled query");
    }
    let r = poll_until(&mut src, "the application's pool", |r| {
        r.pools.iter().any(|p| p.database == "postgres")
    })
    .await;
    let pool = r
        .pools
        .iter()
        .find(|p| p.database == "postgres")
        .expect("checked");
    assert_eq!(pool.user, "mastop_test");
    assert_eq!(pool.pool_mode.as_deref(), Some("transaction"));
    assert_eq!(pool.pool_size, Some(i64::from(POOL_SIZE)));
    assert_eq!(pool.cl_waiting, 0);
    assert!(!pool.saturated());
    let stats = r
        .stats
        .iter()
        .find(|s| s.database == "postgres")
        .expect("stats for the pooled database");
    assert!(stats.total_query_count >= 5, "{stats:?}");
    let r = poll(&mut src).await.expect("second poll");
    assert!(
        r.stats
            .iter()
            .find(|s| s.database == "postgres")
            .is_some_and(|s| s.queries_per_sec.is_some()),
        "the second poll has a rate"
    );
    // Wait times measure the machine as much as PgBouncer: on a loaded test machine a
    // client can wait a few milliseconds for its turn, so they are judged out of reach here
    // and the health checked is the pool's state.
    let patient = Threshold::above(f64::MAX / 2.0, f64::MAX);
    let timing = |key: &str| matches!(key, "avg_wait_ms" | "max_wait_s").then_some(&patient);
    let health = evaluate(&r.figures(), &r.findings(), timing);
    assert_eq!(health.level, Level::Ok, "{health:?}");

    // Two long queries hold both server connections; a third client has to queue.
    let mut sleepers = Vec::new();
    for _ in 0..POOL_SIZE {
        let c = app_client(&bouncer).await;
        sleepers.push(tokio::spawn(async move {
            c.simple_query("SELECT pg_sleep(3600)").await
        }));
    }
    // Both sleepers must hold their servers before the third client asks: were its query
    // dispatched first, it would finish at once and nobody would ever wait.
    poll_until(&mut src, "both servers held by the sleepers", |r| {
        r.pools
            .iter()
            .any(|p| p.database == "postgres" && p.sv_active == i64::from(POOL_SIZE))
    })
    .await;
    let queued = app_client(&bouncer).await;
    let waiter = tokio::spawn(async move { queued.simple_query("SELECT 1").await });
    let r = poll_until(&mut src, "a client waiting for a server", |r| {
        r.pools.iter().any(|p| {
            p.database == "postgres" && p.cl_waiting >= 1 && p.sv_active == i64::from(POOL_SIZE)
        })
    })
    .await;
    let pool = r
        .pools
        .iter()
        .find(|p| p.database == "postgres")
        .expect("checked");
    assert!(pool.saturated());
    assert_eq!(pool.sv_active, i64::from(POOL_SIZE));
    let waiting = r
        .figures()
        .into_iter()
        .find(|f| f.key == "clients_waiting")
        .expect("a waiting figure");
    assert!(waiting.value >= 1.0);
    assert!(evaluate(&r.figures(), &r.findings(), |_| None).level >= Level::Warn);
    let detail = format!("{:?}", r.detail());
    assert!(detail.contains("saturated"), "{detail}");
    assert!(r.summary().contains("pools"), "{}", r.summary());
    // Column values are read by name, and nothing about clients' addresses is kept.
    let json = r.to_json().to_string();
    assert!(!json.contains("127.0.0.1"), "{json}");

    pg.psql(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'",
    );
    tokio::time::timeout(HANG_GUARD, waiter)
        .await
        .expect("the queued client gets a server once one is free")
        .expect("task")
        .expect("query");
    for s in sleepers {
        let _ = tokio::time::timeout(HANG_GUARD, s).await;
    }
}

#[tokio::test]
async fn an_unknown_console_user_is_denied_with_a_hint() {
    let pg = Postgres::start();
    let bouncer = PgBouncer::start(&pg);
    let mut src = source(&bouncer.admin_url("nobody"));
    match poll(&mut src).await {
        Err(PollError::Denied(msg)) => {
            assert!(
                msg.contains(&format!("127.0.0.1:{}", bouncer.port())),
                "{msg}"
            );
            assert!(msg.contains("stats_users"), "{msg}");
        }
        other => panic!("expected Denied, got {other:?}"),
    }
}
