//! What a refresh costs the server, mastop's and pg_activity's side by side, measured on a
//! harness PostgreSQL with pg_stat_statements (`track_planning = on`) and 500, then 50,
//! client connections open: most idle, some idle in transaction, some running, one
//! blocking chain, the way a busy Mastodon primary looks.
//!
//! The server's own accounting is the measure: pg_stat_statements' execution plus planning
//! time of each tool's statements, divided by its refreshes. mastop's statements are told
//! apart by their tag and its refreshes counted by the polls made; pg_activity runs as its
//! own role, in a tmux pane (it has no headless mode), at its default 2 s refresh, and its
//! refreshes are the calls of its most-called statement (each of its per-refresh queries
//! runs once a refresh). pg_activity is skipped, saying so, when it is not installed.
//!
//! That time is wall time inside the server, so on a busy machine it includes waiting for
//! a CPU. Each tool is therefore measured in several batches, and both the quietest batch
//! (the closest to what the work itself costs) and the median are printed; the budget is
//! checked against the quietest.
//!
//! Run with `scripts/measure-postgres.sh`, which installs pg_activity when it can. Knobs:
//! `BATCHES` (mastop's, 20), `POLLS` (mastop refreshes per batch, 10), `PG_ACTIVITY_BATCHES`
//! (5), `PG_ACTIVITY_SECONDS` (per batch, 10).

// The test harness's throwaway servers; the module allows its own unused parts.
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use mastop::config::EndpointConfig;
use mastop::sources::postgres::{PostgresSource, Tiers};
use mastop::sources::{Schedule, Source};
use support::{Postgres, PostgresOptions};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const SIZES: [usize; 2] = [500, 50];
/// Setting up 500 sessions and polling takes seconds; this only stops a hung run.
const HANG_GUARD: Duration = Duration::from_secs(600);
/// The budget for one refresh at 500 connections, execution plus planning.
const BUDGET_MS: f64 = 2.5;
/// pg_activity's role, so its statements can be told from everyone else's.
const PG_ACTIVITY_ROLE: &str = "activity_bench";

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

/// A statement's pg_stat_statements totals.
struct Stat {
    query: String,
    calls: i64,
    exec_ms: f64,
    plan_ms: f64,
}

async fn statements(admin: &Client, filter: &str) -> Vec<Stat> {
    let sql = format!(
        "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70), calls, total_exec_time, total_plan_time
         FROM pg_stat_statements WHERE {filter} AND query NOT LIKE '%pg_stat_statements_reset%'
         ORDER BY total_exec_time + total_plan_time DESC"
    );
    let rows = admin
        .simple_query(&sql)
        .await
        .expect("read pg_stat_statements");
    rows.into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(Stat {
                query: r.get(0)?.to_string(),
                calls: r.get(1)?.parse().ok()?,
                exec_ms: r.get(2)?.parse().ok()?,
                plan_ms: r.get(3)?.parse().ok()?,
            }),
            _ => None,
        })
        .collect()
}

/// What one batch of a tool's refreshes cost.
#[derive(Clone, Copy)]
struct Cost {
    refreshes: usize,
    exec_ms: f64,
    plan_ms: f64,
    statements: i64,
}

impl Cost {
    fn n(&self) -> f64 {
        self.refreshes.max(1) as f64
    }
    fn per_refresh(&self) -> f64 {
        (self.exec_ms + self.plan_ms) / self.n()
    }
    fn describe(&self) -> String {
        format!(
            "{:.3} ms ({:.3} execution + {:.3} planning, {:.1} statements)",
            self.per_refresh(),
            self.exec_ms / self.n(),
            self.plan_ms / self.n(),
            self.statements as f64 / self.n()
        )
    }
}

/// The batches of one tool: the quietest and the median, by cost per refresh.
struct Batches(Vec<Cost>);

impl Batches {
    fn sorted(&self) -> Vec<Cost> {
        let mut costs = self.0.clone();
        costs.sort_by(|a, b| a.per_refresh().total_cmp(&b.per_refresh()));
        costs
    }
    fn quietest(&self) -> Cost {
        self.sorted()[0]
    }
    fn median(&self) -> Cost {
        let sorted = self.sorted();
        sorted[sorted.len() / 2]
    }
    fn print(&self, label: &str) {
        println!(
            "  {label}: quietest batch {}, median {}",
            self.quietest().describe(),
            self.median().describe()
        );
    }
}

fn batch(label: &str, stats: &[Stat], refreshes: usize, detail: bool) -> Cost {
    let cost = Cost {
        refreshes,
        exec_ms: stats.iter().map(|s| s.exec_ms).sum(),
        plan_ms: stats.iter().map(|s| s.plan_ms).sum(),
        statements: stats.iter().map(|s| s.calls).sum(),
    };
    if detail {
        let n = cost.n();
        println!("\n{label}, one batch of {refreshes} refreshes:");
        println!("  {:>6} {:>9} {:>9}  query", "calls", "exec ms", "plan ms");
        for s in stats {
            println!(
                "  {:>6} {:>9.3} {:>9.3}  {}",
                s.calls,
                s.exec_ms / n,
                s.plan_ms / n,
                s.query
            );
        }
    }
    println!("  {label} batch: {}", cost.describe());
    cost
}

async fn measure_mastop(pg: &Postgres, admin: &Client, label: &str, tiers: Tiers) -> Batches {
    let polls = knob("POLLS", 10) as usize;
    let mut src = source(&pg.url(), tiers);
    // The first poll prepares and reads every tier; the steady state is what production sees.
    src.poll().await.unwrap_or_else(|e| panic!("poll: {e}"));
    let mut batches = Vec::new();
    for i in 0..knob("BATCHES", 20) {
        admin
            .simple_query("SELECT pg_stat_statements_reset()")
            .await
            .expect("reset");
        for _ in 0..polls {
            src.poll().await.unwrap_or_else(|e| panic!("poll: {e}"));
        }
        let stats = statements(admin, "query LIKE '/* mastop */%'").await;
        batches.push(batch(label, &stats, polls, i == 0));
    }
    Batches(batches)
}

/// A tmux server of our own, so nothing else on the machine is touched; killed on drop.
struct Pane {
    socket: String,
}

impl Drop for Pane {
    fn drop(&mut self) {
        // tmux leaves its socket file behind: ask where it is, then remove it too.
        let path = Command::new("tmux")
            .args([
                "-L",
                &self.socket,
                "display-message",
                "-p",
                "#{socket_path}",
            ])
            .stderr(Stdio::null())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|p| !p.is_empty());
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
        if let Some(path) = path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn measure_pg_activity(pg: &Postgres, admin: &Client, connections: usize) -> Option<Batches> {
    if !installed("pg_activity") || !installed("tmux") {
        println!(
            "\npg_activity: not measured (needs the Debian packages pg-activity and tmux; scripts/measure-postgres.sh installs them)"
        );
        return None;
    }
    let socket = format!("mastop-bench-{}-{connections}", std::process::id());
    let command = format!(
        "pg_activity -h 127.0.0.1 -p {} -U {PG_ACTIVITY_ROLE} -d postgres",
        pg.port()
    );
    let started = Command::new("tmux")
        .args(["-L", &socket, "new-session", "-d", "-x", "200", "-y", "50"])
        .arg(&command)
        .status()
        .is_ok_and(|s| s.success());
    let pane = Pane { socket };
    if !started {
        println!("\npg_activity: not measured (tmux could not start it)");
        return None;
    }
    // Past its start-up queries, then clean counts.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let filter =
        format!("userid = (SELECT oid FROM pg_roles WHERE rolname = '{PG_ACTIVITY_ROLE}')");
    let mut batches = Vec::new();
    for i in 0..knob("PG_ACTIVITY_BATCHES", 5) {
        admin
            .simple_query("SELECT pg_stat_statements_reset()")
            .await
            .expect("reset");
        tokio::time::sleep(Duration::from_secs(knob("PG_ACTIVITY_SECONDS", 10))).await;
        let stats = statements(admin, &filter).await;
        let refreshes = stats.iter().map(|s| s.calls).max().unwrap_or(0) as usize;
        if refreshes == 0 {
            println!("\npg_activity: not measured (it ran no statements; is it working in tmux?)");
            return None;
        }
        batches.push(batch(
            "pg_activity (default 2 s refresh)",
            &stats,
            refreshes,
            i == 0,
        ));
    }
    drop(pane);
    Some(Batches(batches))
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
    let mut summary = Vec::new();
    for connections in SIZES {
        // Outside the async block, so a panic or the hang guard still stops the server.
        let pg = Postgres::start_with(PostgresOptions {
            max_connections: (connections + 40) as u32,
            preload: vec!["pg_stat_statements".into()],
            settings: vec![("pg_stat_statements.track_planning".into(), "on".into())],
        });
        let result = runtime.block_on(async {
            tokio::time::timeout(HANG_GUARD, run(&pg, connections))
                .await
                .expect("the measurement hung past its guard")
        });
        summary.push((connections, result));
    }

    println!("\nserver time per refresh (execution + planning, pg_stat_statements):");
    for (connections, (mastop, pg_activity)) in &summary {
        println!("  {connections} connections:");
        mastop.print("mastop");
        if let Some(theirs) = pg_activity {
            theirs.print("pg_activity");
            println!(
                "  mastop / pg_activity: {:.2} (quietest batches), {:.2} (medians)",
                mastop.quietest().per_refresh() / theirs.quietest().per_refresh(),
                mastop.median().per_refresh() / theirs.median().per_refresh()
            );
        } else {
            println!("  pg_activity: not measured");
        }
    }
    if let Some((_, (mastop, _))) = summary.iter().find(|(n, _)| *n == 500) {
        let cost = mastop.quietest().per_refresh();
        assert!(
            cost <= BUDGET_MS,
            "a refresh at 500 connections costs {cost:.3} ms, over the {BUDGET_MS} ms budget"
        );
    }
}

async fn run(pg: &Postgres, connections: usize) -> (Batches, Option<Batches>) {
    let idle_in_xact = (connections * 30 / 500).max(2);
    let running = (connections * 20 / 500).max(2);
    pg.psql("CREATE EXTENSION pg_stat_statements");
    pg.psql(&format!("CREATE ROLE {PG_ACTIVITY_ROLE} LOGIN SUPERUSER"));
    pg.psql(
        "CREATE TABLE statuses (id bigint PRIMARY KEY, text text);
         INSERT INTO statuses SELECT g, 'status ' || g FROM generate_series(1, 50000) g;
         DELETE FROM statuses WHERE id % 3 = 0;",
    );
    let admin = connect(&pg.url()).await;

    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        clients.push(connect(&pg.url()).await);
    }
    // The first idle transaction holds a lock that three readers queue behind.
    clients[0]
        .batch_execute("BEGIN; LOCK TABLE statuses IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    for c in clients.iter().take(idle_in_xact).skip(1) {
        c.batch_execute("BEGIN; SELECT 1")
            .await
            .expect("idle in transaction");
    }
    let mut tasks = Vec::new();
    for c in clients.drain(idle_in_xact..idle_in_xact + running) {
        tasks.push(tokio::spawn(async move {
            c.simple_query("SELECT pg_sleep(600)").await
        }));
    }
    for c in clients.drain(idle_in_xact..idle_in_xact + 3) {
        tasks.push(tokio::spawn(async move {
            c.simple_query("SELECT count(*) FROM statuses").await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("\n=== {connections} client connections ===");

    let mastop = measure_mastop(pg, &admin, "mastop, every refresh", Tiers::default()).await;
    measure_mastop(
        pg,
        &admin,
        "mastop, every tier on every refresh (medium and slow included, for scale)",
        Tiers {
            medium: Duration::ZERO,
            slow: Duration::ZERO,
            ..Tiers::default()
        },
    )
    .await;
    let pg_activity = measure_pg_activity(pg, &admin, connections).await;
    drop(clients);
    for t in tasks {
        t.abort();
    }
    (mastop, pg_activity)
}
