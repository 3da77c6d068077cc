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
//! 2. The collector's engine fed by the demo's simulated fleet (the same `collect`, in a
//!    process of its own) publishing to the store for the same time: its CPU and RSS.
//!
//! Run with `scripts/measure-room.sh`. Knobs: `WATCHERS` (50), `SECONDS` (60), `CHANGE_MS`
//! (1700: not a multiple of the cadence, so changes land at every point of a poll's cycle),
//! `CADENCE_MS` (2000, mastop's default).

// The test harness's throwaway servers; the module allows its own unused parts.
#[path = "../tests/it/support/mod.rs"]
mod support;

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

/// Samples `pid`'s CPU over `window` after the warm-up; returns (CPU % of one core, RSS,
/// peak RSS).
async fn sample(pid: u32, window: Duration, ticks: f64) -> (f64, f64, f64) {
    let before = cpu_ticks(pid);
    tokio::time::sleep(window).await;
    let used = cpu_ticks(pid).saturating_sub(before) as f64 / ticks;
    let (rss, hwm) = rss_mib(pid);
    (100.0 * used / window.as_secs_f64(), rss, hwm)
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
            run(&ops, &production, &redis, watchers, seconds, change, cadence),
        )
        .await
        .expect("the measurement hung past its guard")
    });
    println!("machine: load average {} at the end", load_average());
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
    let ticks = clock_ticks();
    let window = Duration::from_secs(seconds);
    let minutes = window.as_secs_f64() / 60.0;
    let work = tempfile::tempdir().expect("a work directory");

    // The store as its owner, then the documented grants and one login per kind.
    let owner = connect(ops.url()).await;
    drop(owner);
    let admin = ops.client().await;
    admin
        .batch_execute("CREATE EXTENSION pg_stat_statements")
        .await
        .expect("pg_stat_statements on the store");
    admin
        .batch_execute(mastop::store::GRANTS)
        .await
        .expect("the grants");
    admin
        .batch_execute(
            "CREATE ROLE room_collector LOGIN IN ROLE mastop_collector; \
             CREATE ROLE room_watcher LOGIN IN ROLE mastop_watcher;",
        )
        .await
        .expect("logins");

    // The collector: `mastop collect`, polling production.
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
    let collector = Stopped(
        Command::new(env!("CARGO_BIN_EXE_mastop"))
            .args(["--config"])
            .arg(&config)
            .arg("collect")
            .env("HOME", work.path())
            .env("XDG_CONFIG_HOME", work.path().join("config"))
            .env("XDG_STATE_HOME", work.path().join("state"))
            .env("XDG_DATA_HOME", work.path().join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(work.path().join("collector.log")).expect("log file"),
            ))
            .spawn()
            .expect("start mastop collect"),
    );

    // The watchers, through a proxy that counts their bytes.
    let door = CountingProxy::start(ops.port());
    let url = ops
        .url_as("room_watcher")
        .replace(&format!(":{}/", ops.port()), &format!(":{}/", door.port()));
    let changes: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let answered: Arc<Mutex<usize>> = Arc::default();
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let store = connect(url.clone()).await;
        let (changes, latencies, answered, stop) = (
            Arc::clone(&changes),
            Arc::clone(&latencies),
            Arc::clone(&answered),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut watcher = Watcher::new(Default::default(), Default::default());
            let mut shown: Option<u64> = None;
            let followed = follow(&store, &mut watcher, &stop, |fleet| {
                // What `mastop watch` prints on each change: the screen of this watcher.
                let (lines, _) = mastop::headless::check(fleet);
                std::hint::black_box(lines);
                let now = Instant::now();
                let Some(keys) = fleet
                    .components()
                    .iter()
                    .find(|c| c.meta.id.as_str() == "redis/cache")
                    .and_then(|c| c.reading.as_ref())
                    .map(|r| r.to_json()["keyspace"][0]["keys"].as_u64().unwrap_or(0))
                else {
                    return;
                };
                let from = match shown {
                    Some(from) => from,
                    None => {
                        if let Ok(mut n) = answered.lock() {
                            *n += 1;
                        }
                        keys
                    }
                };
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
        }));
    }
    let started = Instant::now();
    while answered.lock().map_or(0, |n| *n) < watchers {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the watchers did not all see production answer; collector log:\n{}",
            std::fs::read_to_string(work.path().join("collector.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(WARM_UP).await;

    // The minute: changes in production, and what the store and the collector spend.
    let watcher_backends = backends(&admin, "room_watcher").await;
    let collector_backends = backends(&admin, "room_collector").await;
    let everything = instance(ops.pid().expect("the store's pid"));
    admin
        .batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .expect("reset");
    door.reset();
    let before = (
        total_ticks(&watcher_backends),
        total_ticks(&collector_backends),
        total_ticks(&everything),
        cpu_ticks(collector.0.id()),
    );
    let mut making = redis.connection().await;
    let begun = Instant::now();
    let mut made = 0;
    while begun.elapsed() < window {
        if let Ok(mut at) = changes.lock() {
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
    let elapsed = begun.elapsed();
    let after = (
        total_ticks(&watcher_backends),
        total_ticks(&collector_backends),
        total_ticks(&everything),
        cpu_ticks(collector.0.id()),
    );
    let (bytes_up, bytes_down) = (door.bytes_up(), door.bytes_down());
    let watcher_sql = statements(&admin, "room_watcher").await;
    let collector_sql = statements(&admin, "room_collector").await;
    let (collector_rss, collector_peak) = rss_mib(collector.0.id());
    // The last changes get the time to arrive before the latencies are read.
    tokio::time::sleep(cadence + Duration::from_secs(2)).await;
    stop.cancel();
    for task in tasks {
        let _ = task.await;
    }
    drop(collector);

    let mut latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort();
    let expected = made * watchers;
    let n = watchers as f64;
    let cpu_ms = |t: u64| 1000.0 * t as f64 / ticks;
    println!(
        "\n== {watchers} watchers, one collector polling production every {} for {:.0} s",
        ms(cadence),
        elapsed.as_secs_f64()
    );
    println!(
        "store CPU, /proc utime+stime (resolution {:.0} ms):",
        1000.0 / ticks
    );
    println!(
        "  watchers' backends: {:.0} ms per watcher per minute ({:.0} ms in all, {} backends)",
        cpu_ms(after.0 - before.0) / n / minutes,
        cpu_ms(after.0 - before.0),
        watcher_backends.len()
    );
    println!(
        "  collector's backend: {:.0} ms per minute",
        cpu_ms(after.1 - before.1) / minutes
    );
    println!(
        "  whole store instance: {:.0} ms per minute ({:.2}% of one core)",
        cpu_ms(after.2 - before.2) / minutes,
        100.0 * cpu_ms(after.2 - before.2) / 1000.0 / elapsed.as_secs_f64()
    );
    println!(
        "store execution time, pg_stat_statements: watchers {:.1} ms per watcher per minute \
         ({:.1} statements, {:.1} rows per watcher per minute); collector {:.1} ms per minute \
         ({} statements)",
        watcher_sql.1 / n / minutes,
        watcher_sql.0 as f64 / n / minutes,
        watcher_sql.2 as f64 / n / minutes,
        collector_sql.1 / minutes,
        collector_sql.0
    );
    println!(
        "bytes on the wire per watcher per minute (PostgreSQL protocol, both ways): {:.0} KiB \
         ({:.0} KiB from the store, {:.0} KiB to it)",
        (bytes_up + bytes_down) as f64 / 1024.0 / n / minutes,
        bytes_down as f64 / 1024.0 / n / minutes,
        bytes_up as f64 / 1024.0 / n / minutes
    );
    println!(
        "change to screen ({} changes x {watchers} watchers, {} seen): median {}, p99 {}, max {}",
        made,
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
    println!(
        "collector (mastop collect, 2 components): CPU {:.2}% of one core, RSS {collector_rss:.1} MiB (peak {collector_peak:.1} MiB)",
        100.0 * (after.3 - before.3) as f64 / ticks / elapsed.as_secs_f64()
    );

    // The demo-sized fleet, through the same collector loop, in a process of its own.
    admin
        .batch_execute("DELETE FROM mastop_live_components")
        .await
        .expect("empty the room");
    let demo = Stopped(
        Command::new(std::env::current_exe().expect("this program"))
            .env(DEMO_CHILD, ops.url())
            .env(DEMO_SECONDS, (WARM_UP + window).as_secs().to_string())
            .env("HOME", work.path())
            .env("XDG_DATA_HOME", work.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the demo collector"),
    );
    tokio::time::sleep(WARM_UP).await;
    let (cpu, rss, peak) = sample(demo.0.id(), window, ticks).await;
    let mut demo = demo;
    let output = {
        let mut out = String::new();
        if let Some(mut stdout) = demo.0.stdout.take() {
            use std::io::Read;
            let _ = stdout.read_to_string(&mut out);
        }
        out
    };
    drop(demo);
    println!(
        "\n== collector on the demo fleet for {seconds} s: {}",
        output.trim()
    );
    println!("  CPU {cpu:.2}% of one core, RSS {rss:.1} MiB (peak {peak:.1} MiB)");
}

/// The child: the collector's loop over the demo's simulated fleet, publishing to the store
/// at `url`, for `MASTOP_ROOM_DEMO_SECONDS`; prints what it did on stdout.
fn demo_collector(url: String) {
    let seconds = knob(DEMO_SECONDS, 65);
    let (cfg, _) = mastop::config::load_str("", "demo.toml", &[]).expect("the built-in config");
    let engine = Engine::new(
        cfg,
        Options {
            readonly: true,
            demo: Some(Demo {
                at: Duration::from_secs(600),
                drill: false,
            }),
        },
    );
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
        let components = engine.sources().len();
        let tally = collect(&engine, &store, "room-measurement", &cancel).await;
        println!(
            "{components} components, {} publications, {} failed rounds",
            tally.published, tally.failed_rounds
        );
    });
}
