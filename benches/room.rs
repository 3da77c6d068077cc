//! What the live room costs: one collector and fifty watchers for a minute, on throwaway
//! servers of the test harness (an ops store PostgreSQL, a production PostgreSQL and Redis).
//!
//! 1. `mastop collect` (the real binary, its own process) polls production at the default
//!    cadence and publishes to the store as a `mastop_collector` login. Fifty watchers in
//!    this process follow the room exactly as `mastop watch` does (their own store client
//!    each, LISTEN, fetch what changed, the `check` lines of the fleet computed as the
//!    screen) as one `mastop_watcher` login, through a proxy that counts their bytes. Every
//!    `CHANGE_MS` the measurement adds a key to production's Redis and notes when; each
//!    watcher notes when its fleet first shows it.
//!
//!    Printed: the store's CPU per watcher per minute, from /proc (utime + stime of the
//!    watchers' own backends, which includes reading the notification queue) and from
//!    pg_stat_statements (execution time of the watchers' statements); bytes per watcher per
//!    minute on the wire (PostgreSQL protocol bytes both ways, notifications included, TCP
//!    and IP headers not); change-to-screen latency, median and p99 over every watcher and
//!    change; and the collector's CPU and RSS.
//! 2. The collector's loop (the same `collect`, in a process of its own) fed by the demo's
//!    simulated fleet, the size of a Hachyderm-like instance with an hour of history, and
//!    `DEMO_WATCHERS` (10) new watchers for the same time: the same figures but latency,
//!    with the demo's component sizes, and how many watchers kept up.
//!
//! Run with `scripts/measure-room.sh`. Knobs: `WATCHERS` (50), `SECONDS` (60), `CHANGE_MS`
//! (1700: not a multiple of the cadence, so changes land at every point of a poll's cycle),
//! `CADENCE_MS` (2000, mastop's default).

// The test harness's throwaway servers; the module allows its own unused parts.
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mastop::config::OpsStoreConfig;
use mastop::engine::{Demo, Engine, Options};
use mastop::live::collector::collect;
use mastop::live::watch::{Watcher, follow};
use mastop::store::PgStore;
use support::{CountingProxy, Postgres, PostgresOptions, Redis};
use tokio_util::sync::CancellationToken;

/// Setting up and a minute of watching take a few minutes at most; this stops a hung run.
const HANG_GUARD: Duration = Duration::from_secs(900);
/// The demo collector child: the store's URL, and how long to run.
const DEMO_CHILD: &str = "MASTOP_ROOM_DEMO_COLLECTOR";
const DEMO_SECONDS: &str = "MASTOP_ROOM_DEMO_SECONDS";
/// Before sampling a process: connections made, first polls and publications done.
const WARM_UP: Duration = Duration::from_secs(5);

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ops_config(url: String) -> OpsStoreConfig {
    OpsStoreConfig {
        url,
        password: None,
        lock_ttl: Duration::from_secs(120),
        approval_ttl: Duration::from_secs(900),
        deadline: Duration::from_secs(10),
        tls_ca: None,
    }
}

async fn connect(url: String) -> PgStore {
    PgStore::connect(&ops_config(url))
        .await
        .unwrap_or_else(|e| panic!("connect to the ops store: {e}"))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// `/proc/PID/stat` fields after the command name: state is the first.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// utime + stime, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    stat_fields(pid)
        .and_then(|f| Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?))
        .unwrap_or(0)
}

fn total_ticks(pids: &[u32]) -> u64 {
    pids.iter().map(|p| cpu_ticks(*p)).sum()
}

/// The server process and every process it started.
fn instance(postmaster: u32) -> Vec<u32> {
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let parent = stat_fields(pid).and_then(|f| f.get(1)?.parse::<u32>().ok());
        if parent == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

/// `VmRSS` and `VmHWM` in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Backends of `role` on the store.
async fn backends(store: &tokio_postgres::Client, role: &str) -> Vec<u32> {
    store
        .query(
            "SELECT pid FROM pg_stat_activity WHERE usename = $1",
            &[&role],
        )
        .await
        .expect("read pg_stat_activity")
        .iter()
        .filter_map(|r| u32::try_from(r.get::<_, i32>("pid")).ok())
        .collect()
}

/// pg_stat_statements of `role`: (calls, execution ms, rows).
async fn statements(store: &tokio_postgres::Client, role: &str) -> (i64, f64, i64) {
    let row = store
        .query_one(
            "SELECT coalesce(sum(calls), 0)::int8 AS calls, \
             coalesce(sum(total_exec_time), 0)::float8 AS ms, coalesce(sum(rows), 0)::int8 AS rows \
             FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1)",
            &[&role],
        )
        .await
        .expect("read pg_stat_statements");
    (row.get("calls"), row.get("ms"), row.get("rows"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.0.wait();
    }
}

fn main() {
    if let Ok(url) = std::env::var(DEMO_CHILD) {
        demo_collector(url);
        return;
    }
    // `cargo test --all-targets` runs bench binaries too, without `--bench`; this starts
    // servers and runs for minutes, so it belongs to `cargo bench` only.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "live room measurement: run `cargo bench --bench room` or scripts/measure-room.sh"
        );
        return;
    }
    let watchers = usize::try_from(knob("WATCHERS", 50)).unwrap_or(50);
    let seconds = knob("SECONDS", 60);
    let change = Duration::from_millis(knob("CHANGE_MS", 1700));
    let cadence = Duration::from_millis(knob("CADENCE_MS", 2000));
    println!(
        "machine: {} cores, load average {} at start",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let ops = Postgres::start_with(PostgresOptions {
        max_connections: u32::try_from(2 * watchers + 40).unwrap_or(200),
        preload: vec!["pg_stat_statements".into()],
        settings: vec![("pg_stat_statements.track_utility".into(), "on".into())],
    });
    let production = Postgres::start();
    let redis = Redis::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        tokio::time::timeout(
            HANG_GUARD,
            run(
                &ops,
                &production,
                &redis,
                watchers,
                seconds,
                change,
                cadence,
            ),
        )
        .await
        .expect("the measurement hung past its guard")
    });
    println!("machine: load average {} at the end", load_average());
}

/// Fifty (`WATCHERS`) watchers following the room, as `mastop watch` does.
struct Watchers {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<i64>>,
    /// When each change was made in production: change `j` is the `j+1`th key.
    changes: Arc<Mutex<Vec<Instant>>>,
    latencies: Arc<Mutex<Vec<Duration>>>,
    /// Watchers whose fleet has drawn `ready` components with a reading.
    ready: Arc<Mutex<usize>>,
}

impl Watchers {
    async fn start(url: &str, count: usize, ready_at: usize) -> Watchers {
        let watchers = Watchers {
            stop: CancellationToken::new(),
            tasks: Vec::with_capacity(count),
            changes: Arc::default(),
            latencies: Arc::default(),
            ready: Arc::default(),
        };
        let mut watchers = watchers;
        for _ in 0..count {
            let store = connect(url.to_string()).await;
            let (changes, latencies, ready, stop) = (
                Arc::clone(&watchers.changes),
                Arc::clone(&watchers.latencies),
                Arc::clone(&watchers.ready),
                watchers.stop.clone(),
            );
            watchers.tasks.push(tokio::spawn(async move {
                let mut watcher = Watcher::new(Default::default(), Default::default());
                let mut shown: Option<u64> = None;
                let mut counted = false;
                let followed = follow(&store, &mut watcher, &stop, |fleet| {
                    // What `mastop watch` prints on each change: this watcher's screen.
                    let (lines, _) = mastop::headless::check(fleet);
                    std::hint::black_box(lines);
                    let now = Instant::now();
                    let drawn = fleet
                        .components()
                        .iter()
                        .filter(|c| c.reading.is_some())
                        .count();
                    if !counted
                        && drawn >= ready_at
                        && let Ok(mut n) = ready.lock()
                    {
                        *n += 1;
                        counted = true;
                    }
                    let Some(keys) = fleet
                        .components()
                        .iter()
                        .find(|c| c.meta.id.as_str() == "redis/cache")
                        .and_then(|c| c.reading.as_ref())
                        .map(|r| r.to_json()["keyspace"][0]["keys"].as_u64().unwrap_or(0))
                    else {
                        return;
                    };
                    let from = shown.unwrap_or(keys);
                    if keys > from
                        && let (Ok(made), Ok(mut out)) = (changes.lock(), latencies.lock())
                    {
                        for j in from..keys {
                            if let Some(at) = usize::try_from(j).ok().and_then(|j| made.get(j)) {
                                out.push(now.duration_since(*at));
                            }
                        }
                    }
                    shown = Some(keys.max(from));
                })
                .await;
                if let Err(e) = followed {
                    eprintln!("a watcher failed: {e}");
                }
                watcher.last_seq()
            }));
        }
        watchers
    }

    async fn wait_ready(&self, count: usize, log: &Path) {
        let started = Instant::now();
        while self.ready.lock().map_or(0, |n| *n) < count {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "the watchers did not all see the fleet; collector log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops following; returns the latencies seen, sorted, and how many watchers had
    /// caught up with publication `seq`.
    async fn stop(self, seq: i64) -> (Vec<Duration>, usize) {
        self.stop.cancel();
        let mut caught_up = 0;
        for task in self.tasks {
            if task.await.is_ok_and(|last| last >= seq) {
                caught_up += 1;
            }
        }
        let mut latencies = self.latencies.lock().map(|l| l.clone()).unwrap_or_default();
        latencies.sort();
        (latencies, caught_up)
    }
}

/// What the store and the collector spent over a window.
struct Costs {
    watcher_backends: Vec<u32>,
    collector_backends: Vec<u32>,
    everything: Vec<u32>,
    collector: u32,
    ticks: (u64, u64, u64, u64),
    started: Instant,
}

impl Costs {
    async fn begin(
        admin: &tokio_postgres::Client,
        postmaster: u32,
        door: &CountingProxy,
        collector: u32,
    ) -> Costs {
        let watcher_backends = backends(admin, "room_watcher").await;
        let collector_backends = backends(admin, "room_collector").await;
        let everything = instance(postmaster);
        admin
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .expect("reset pg_stat_statements");
        door.reset();
        let ticks = (
            total_ticks(&watcher_backends),
            total_ticks(&collector_backends),
            total_ticks(&everything),
            cpu_ticks(collector),
        );
        Costs {
            watcher_backends,
            collector_backends,
            everything,
            collector,
            ticks,
            started: Instant::now(),
        }
    }

    async fn end(
        self,
        admin: &tokio_postgres::Client,
        door: &CountingProxy,
        watchers: usize,
        hz: f64,
    ) {
        let elapsed = self.started.elapsed();
        let after = (
            total_ticks(&self.watcher_backends),
            total_ticks(&self.collector_backends),
            total_ticks(&self.everything),
            cpu_ticks(self.collector),
        );
        let (bytes_up, bytes_down) = (door.bytes_up(), door.bytes_down());
        let watcher_sql = statements(admin, "room_watcher").await;
        let collector_sql = statements(admin, "room_collector").await;
        let (collector_rss, collector_peak) = rss_mib(self.collector);
        let private = private_mib(&self.watcher_backends);
        let minutes = elapsed.as_secs_f64() / 60.0;
        let n = watchers as f64;
        let cpu_ms = |t: u64| 1000.0 * t as f64 / hz;
        println!(
            "store CPU, /proc utime+stime (resolution {:.0} ms):",
            1000.0 / hz
        );
        println!(
            "  watchers' backends: {:.0} ms per watcher per minute ({:.0} ms in all, {} backends, {:.1} MiB private memory each)",
            cpu_ms(after.0 - self.ticks.0) / n / minutes,
            cpu_ms(after.0 - self.ticks.0),
            self.watcher_backends.len(),
            private / self.watcher_backends.len().max(1) as f64
        );
        println!(
            "  collector's backend: {:.0} ms per minute",
            cpu_ms(after.1 - self.ticks.1) / minutes
        );
        println!(
            "  whole store instance: {:.0} ms per minute ({:.2}% of one core)",
            cpu_ms(after.2 - self.ticks.2) / minutes,
            100.0 * cpu_ms(after.2 - self.ticks.2) / 1000.0 / elapsed.as_secs_f64()
        );
        println!(
            "store execution time, pg_stat_statements: watchers {:.1} ms per watcher per minute \
             ({:.1} statements, {:.1} rows per watcher per minute); collector {:.1} ms per minute \
             ({:.0} statements per minute)",
            watcher_sql.1 / n / minutes,
            watcher_sql.0 as f64 / n / minutes,
            watcher_sql.2 as f64 / n / minutes,
            collector_sql.1 / minutes,
            collector_sql.0 as f64 / minutes
        );
        println!(
            "bytes on the wire per watcher per minute (PostgreSQL protocol, both ways): {:.0} KiB \
             ({:.0} KiB from the store, {:.0} KiB to it)",
            (bytes_up + bytes_down) as f64 / 1024.0 / n / minutes,
            bytes_down as f64 / 1024.0 / n / minutes,
            bytes_up as f64 / 1024.0 / n / minutes
        );
        println!(
            "collector process: CPU {:.2}% of one core, RSS {collector_rss:.1} MiB (peak {collector_peak:.1} MiB)",
            100.0 * (after.3 - self.ticks.3) as f64 / hz / elapsed.as_secs_f64()
        );
    }
}

/// Private memory (clean + dirty) of `pids`, in MiB, from smaps_rollup.
fn private_mib(pids: &[u32]) -> f64 {
    pids.iter()
        .map(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("Private_"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
                .sum::<f64>()
        })
        .sum::<f64>()
        / 1024.0
}

fn spawn_logged(command: &mut Command, log: &Path) -> Stopped {
    let log = std::fs::File::create(log).expect("a log file");
    Stopped(
        command
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start a collector"),
    )
}

#[allow(clippy::too_many_arguments)]
async fn run(
    ops: &Postgres,
    production: &Postgres,
    redis: &Redis,
    watchers: usize,
    seconds: u64,
    change: Duration,
    cadence: Duration,
) {
    let hz = clock_ticks();
    let window = Duration::from_secs(seconds);
    let work = tempfile::tempdir().expect("a work directory");
    let postmaster = ops.pid().expect("the store's pid");

    // The store as its owner, then the documented grants and one login per kind.
    drop(connect(ops.url()).await);
    let admin = ops.client().await;
    admin
        .batch_execute(
            "CREATE EXTENSION pg_stat_statements; \
             CREATE ROLE room_collector LOGIN; CREATE ROLE room_watcher LOGIN;",
        )
        .await
        .expect("pg_stat_statements and logins on the store");
    admin
        .batch_execute(mastop::store::GRANTS)
        .await
        .expect("the grants");
    admin
        .batch_execute(
            "GRANT mastop_collector TO room_collector; GRANT mastop_watcher TO room_watcher;",
        )
        .await
        .expect("the logins' roles");
    // The watchers reach the store through a proxy that counts their bytes.
    let door = CountingProxy::start(ops.port());
    let watcher_url = ops
        .url_as("room_watcher")
        .replace(&format!(":{}/", ops.port()), &format!(":{}/", door.port()));

    // 1. `mastop collect` polling production; a key added to Redis every `change`.
    let config = work.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\ncadence = \"{}ms\"\n\n[ops_store]\nurl = \"{}\"\n\n\
             [[postgres]]\nname = \"primary\"\nurl = \"{}\"\n\n\
             [[redis]]\nname = \"cache\"\nurl = \"{}\"\n",
            cadence.as_millis(),
            ops.url_as("room_collector"),
            production.url(),
            redis.url()
        ),
    )
    .expect("write the collector's config");
    let log = work.path().join("collector.log");
    let collector = spawn_logged(
        Command::new(env!("CARGO_BIN_EXE_mastop"))
            .arg("--config")
            .arg(&config)
            .arg("collect")
            .env("HOME", work.path())
            .env("XDG_CONFIG_HOME", work.path().join("config"))
            .env("XDG_STATE_HOME", work.path().join("state"))
            .env("XDG_DATA_HOME", work.path().join("data")),
        &log,
    );
    let room = Watchers::start(&watcher_url, watchers, 2).await;
    room.wait_ready(watchers, &log).await;
    tokio::time::sleep(WARM_UP).await;
    println!(
        "\n== {watchers} watchers, `mastop collect` polling production (PostgreSQL and Redis) every {} for {seconds} s",
        ms(cadence)
    );
    let costs = Costs::begin(&admin, postmaster, &door, collector.0.id()).await;
    let mut making = redis.connection().await;
    let mut made = 0;
    while costs.started.elapsed() < window {
        if let Ok(mut at) = room.changes.lock() {
            at.push(Instant::now());
        }
        let _: () = redis::cmd("SET")
            .arg(format!("room-change-{made}"))
            .arg(1)
            .query_async(&mut making)
            .await
            .expect("a change in production");
        made += 1;
        tokio::time::sleep(change).await;
    }
    costs.end(&admin, &door, watchers, hz).await;
    let seq = latest_seq(&admin).await;
    // The last changes get the time to arrive before the latencies are read.
    tokio::time::sleep(cadence + Duration::from_secs(2)).await;
    let (latencies, caught_up) = room.stop(seq).await;
    drop(collector);
    println!(
        "{caught_up} of {watchers} watchers had caught up with the room 1 s after the next cadence"
    );
    let expected = made * watchers;
    println!(
        "change to screen ({made} changes x {watchers} watchers, {} seen): median {}, p99 {}, max {}",
        latencies.len(),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    if latencies.len() < expected {
        println!(
            "  {} of {expected} changes were never seen by a watcher",
            expected - latencies.len()
        );
    }

    // 2. The demo-sized fleet through the same collector loop, in a process of its own.
    admin
        .batch_execute("DELETE FROM mastop_live_components")
        .await
        .expect("empty the room");
    let log = work.path().join("demo-collector.log");
    let demo = spawn_logged(
        Command::new(std::env::current_exe().expect("this program"))
            .env(DEMO_CHILD, ops.url_as("room_collector"))
            .env(DEMO_SECONDS, "3600")
            .env("CADENCE_MS", cadence.as_millis().to_string())
            .env("HOME", work.path())
            .env("XDG_DATA_HOME", work.path().join("data")),
        &log,
    );
    let watchers = usize::try_from(knob("DEMO_WATCHERS", 10)).unwrap_or(10);
    let room = Watchers::start(&watcher_url, watchers, 1).await;
    room.wait_ready(watchers, &log).await;
    tokio::time::sleep(WARM_UP).await;
    let sizes = admin
        .query_one(
            "SELECT count(*)::int8 AS n, \
             coalesce(avg(length(component::text) + coalesce(length(past::text), 0)), 0)::float8 AS avg, \
             coalesce(avg(length(component::text)), 0)::float8 AS latest \
             FROM mastop_live_components",
            &[],
        )
        .await
        .expect("the published components");
    println!(
        "\n== {watchers} watchers, the collector on the demo fleet ({} components, {:.1} KiB each on average with its history, {:.1} KiB of it fetched on every change) every {} for {seconds} s",
        sizes.get::<_, i64>("n"),
        sizes.get::<_, f64>("avg") / 1024.0,
        sizes.get::<_, f64>("latest") / 1024.0,
        ms(cadence)
    );
    let costs = Costs::begin(&admin, postmaster, &door, demo.0.id()).await;
    tokio::time::sleep(window).await;
    costs.end(&admin, &door, watchers, hz).await;
    let seq = latest_seq(&admin).await;
    tokio::time::sleep(cadence + Duration::from_secs(2)).await;
    let (_, caught_up) = room.stop(seq).await;
    drop(demo);
    println!(
        "{caught_up} of {watchers} watchers had caught up with the room 1 s after the next cadence"
    );
}

async fn latest_seq(admin: &tokio_postgres::Client) -> i64 {
    admin
        .query_one(
            "SELECT coalesce(max(seq), 0)::int8 AS seq FROM mastop_live_components",
            &[],
        )
        .await
        .expect("the latest publication")
        .get("seq")
}

fn demo_engine(cadence: Duration) -> Engine {
    let (cfg, _) = mastop::config::load_str(
        &format!("[defaults]\ncadence = \"{}ms\"\n", cadence.as_millis()),
        "demo.toml",
        &[],
    )
    .expect("the built-in config");
    Engine::new(
        cfg,
        Options {
            readonly: true,
            demo: Some(Demo {
                at: Duration::from_secs(600),
                drill: false,
            }),
        },
    )
}

/// The child: the collector's loop over the demo's simulated fleet, publishing to the store
/// at `url` for `MASTOP_ROOM_DEMO_SECONDS`.
fn demo_collector(url: String) {
    let seconds = knob(DEMO_SECONDS, 65);
    let engine = demo_engine(Duration::from_millis(knob("CADENCE_MS", 2000)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = connect(url).await;
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.cancel();
        });
        let tally = collect(&engine, &store, "room-measurement", &cancel).await;
        eprintln!(
            "{} publications, {} failed rounds",
            tally.published, tally.failed_rounds
        );
    });
}
