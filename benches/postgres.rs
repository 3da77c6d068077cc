//! What mastop's Postgres polling costs the server, measured on a harness PostgreSQL with
//! 500 client connections open (most idle, some idle in transaction, some running, one
//! blocking chain), the way a busy Mastodon primary looks.
//!
//! The server's own accounting is the measure: pg_stat_statements' execution and planning
//! time of mastop's tagged queries, divided by the number of polls. Run with
//! `scripts/measure-postgres.sh` (or `cargo bench --bench postgres`).

// The test harness's throwaway servers; the module allows its own unused parts.
#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::sources::postgres::{PostgresSource, Tiers};
use mastop::sources::{Schedule, Source};
use support::{Postgres, PostgresOptions};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const CONNECTIONS: usize = 500;
const IDLE_IN_XACT: usize = 30;
const RUNNING: usize = 20;
const POLLS: usize = 50;
/// Setting up 500 sessions and polling takes seconds; this only stops a hung run.
const HANG_GUARD: Duration = Duration::from_secs(300);
/// The budget for one fast-cadence refresh.
const BUDGET_MS: f64 = 5.0;

fn source(url: &str, tiers: Tiers) -> PostgresSource {
    let endpoint: EndpointConfig =
        toml::from_str(&format!("name = \"primary\"\nurl = \"{url}\"")).expect("endpoint");
    PostgresSource::new(
        &endpoint,
        Schedule {
            cadence: Duration::from_secs(2),
            deadline: Duration::from_secs(10),
        },
    )
    .with_tiers(tiers)
}

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// (query, calls, exec ms, plan ms) of mastop's tagged statements.
async fn mastop_statements(admin: &Client) -> Vec<(String, i64, f64, f64)> {
    let rows = admin
        .simple_query(
            "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70), calls, total_exec_time, total_plan_time
             FROM pg_stat_statements WHERE query LIKE '/* mastop */%' ORDER BY total_exec_time DESC",
        )
        .await
        .expect("read pg_stat_statements");
    rows.into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((
                r.get(0)?.to_string(),
                r.get(1)?.parse().ok()?,
                r.get(2)?.parse().ok()?,
                r.get(3)?.parse().ok()?,
            )),
            _ => None,
        })
        .collect()
}

async fn measure(pg: &Postgres, admin: &Client, label: &str, tiers: Tiers) -> f64 {
    let mut src = source(&pg.url(), tiers);
    // The first poll reads everything; the steady state is what production sees.
    src.poll().await.unwrap_or_else(|e| panic!("poll: {e}"));
    admin
        .simple_query("SELECT pg_stat_statements_reset()")
        .await
        .expect("reset");
    for _ in 0..POLLS {
        src.poll().await.unwrap_or_else(|e| panic!("poll: {e}"));
    }
    let stats = mastop_statements(admin).await;
    let total: f64 = stats.iter().map(|(_, _, e, p)| e + p).sum();
    let per_poll = total / POLLS as f64;
    println!("\n{label}: {POLLS} polls, {CONNECTIONS} connections open");
    println!("  {:>6} {:>9} {:>9}  query", "calls", "exec ms", "plan ms");
    for (q, calls, exec, plan) in &stats {
        println!(
            "  {calls:>6} {:>9.3} {:>9.3}  {q}",
            exec / POLLS as f64,
            plan / POLLS as f64
        );
    }
    let statements: i64 = stats.iter().map(|(_, c, _, _)| c).sum();
    println!(
        "  server time per poll: {per_poll:.3} ms over {:.1} statements (one round trip each, pipelined)",
        statements as f64 / POLLS as f64
    );
    per_poll
}

fn main() {
    // `cargo test --all-targets` runs bench binaries too, without `--bench`; the measurement
    // opens 500 connections and belongs to `cargo bench` only, so say so and stop.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "postgres cost measurement: run `cargo bench --bench postgres` or scripts/measure-postgres.sh"
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Outside the async block, so a panic or the hang guard still stops the server.
    let pg = Postgres::start_with(PostgresOptions {
        max_connections: (CONNECTIONS + 40) as u32,
        preload: vec!["pg_stat_statements".into()],
        settings: vec![("pg_stat_statements.track_planning".into(), "on".into())],
    });
    runtime.block_on(async {
        tokio::time::timeout(HANG_GUARD, run(&pg))
            .await
            .expect("the measurement hung past its guard");
    });
}

async fn run(pg: &Postgres) {
    {
        pg.psql("CREATE EXTENSION pg_stat_statements");
        pg.psql(
            "CREATE TABLE statuses (id bigint PRIMARY KEY, text text);
             INSERT INTO statuses SELECT g, 'status ' || g FROM generate_series(1, 50000) g;
             DELETE FROM statuses WHERE id % 3 = 0;",
        );
        let admin = connect(&pg.url()).await;

        let mut clients = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            clients.push(connect(&pg.url()).await);
        }
        // The first idle transaction holds a lock that three readers queue behind.
        clients[0]
            .batch_execute("BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock");
        for c in clients.iter().take(IDLE_IN_XACT).skip(1) {
            c.batch_execute("BEGIN; SELECT 1")
                .await
                .expect("idle in transaction");
        }
        let mut running = Vec::new();
        for c in clients.drain(IDLE_IN_XACT..IDLE_IN_XACT + RUNNING) {
            running.push(tokio::spawn(async move {
                c.simple_query("SELECT pg_sleep(600)").await
            }));
        }
        for c in clients.drain(IDLE_IN_XACT..IDLE_IN_XACT + 3) {
            running.push(tokio::spawn(async move {
                c.simple_query("SELECT count(*) FROM statuses").await
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;

        let fast = measure(pg, &admin, "fast tier (every poll)", Tiers::default()).await;
        let all = measure(
            pg,
            &admin,
            "every tier on every poll (medium and slow included)",
            Tiers {
                medium: Duration::ZERO,
                slow: Duration::ZERO,
                ..Tiers::default()
            },
        )
        .await;
        println!(
            "\nfast-tier refresh: {fast:.3} ms of server time (budget {BUDGET_MS} ms); all tiers at once: {all:.3} ms"
        );
        assert!(
            fast <= BUDGET_MS,
            "the fast tier costs {fast:.3} ms per refresh, over the {BUDGET_MS} ms budget"
        );
        drop(clients);
        for r in running {
            r.abort();
        }
    }
}
