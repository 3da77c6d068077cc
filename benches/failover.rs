//! How long the live room goes without a leader when the leading `mastop collect` is
//! killed (SIGKILL) or hangs (SIGSTOP), with a standby running: two real collector
//! processes against a harness PostgreSQL (the ops store, under the documented grants, the
//! collectors sharing one login) and a harness Redis (production).
//!
//! Each round starts a leader and a standby, then sends the signal (at a different phase
//! of the standby's cadence each round: right after its try is seen, plus i/ROUNDS of a
//! cadence) and measures, by the store's rows polled every 10 ms: the time until the beat row names the standby (the
//! takeover), and until the standby's first publication of a reading (the room moving
//! again). The target is one cadence plus the leader timeout; with the shipped
//! defaults (cadence 2 s, `leader_timeout` 10 s) that is 12 s.
//!
//! Run with `scripts/measure-failover.sh`. Knobs: `ROUNDS` (3), `CADENCE_MS` (2000),
//! `LEADER_TIMEOUT_MS` (10000).

// The test harness's throwaway servers; the module allows its own unused parts.
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{Postgres, Redis};

/// A takeover with the defaults takes seconds; this only stops a hung run.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Collector(Child);

impl Collector {
    fn start(config: &std::path::Path, home: &std::path::Path) -> Collector {
        let child = Command::new(env!("CARGO_BIN_EXE_mastop"))
            .arg("--config")
            .arg(config)
            .args(["--log-level", "warn", "collect"])
            .env("HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mastop collect");
        Collector(child)
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).expect("pid")
    }

    fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal the collector");
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `(leader pid, standby pid when fresh, the redis component's seq)`.
async fn room(c: &tokio_postgres::Client) -> (Option<i32>, Option<i32>, Option<i64>) {
    let row = c
        .query_one(
            "SELECT (SELECT pid FROM mastop_live_collector) AS leader, \
             (SELECT standby_pid FROM mastop_live_collector \
               WHERE standby_beat_at > now() - leader_timeout_ms * interval '1 millisecond') AS standby, \
             (SELECT seq FROM mastop_live_components WHERE id = 'redis/cache') AS seq",
            &[],
        )
        .await
        .expect("read the room");
    (row.get("leader"), row.get("standby"), row.get("seq"))
}

async fn until<T>(
    c: &tokio_postgres::Client,
    what: &str,
    found: impl Fn((Option<i32>, Option<i32>, Option<i64>)) -> Option<T>,
) -> T {
    let waited = tokio::time::timeout(HANG_GUARD, async {
        loop {
            if let Some(value) = found(room(c).await) {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("{what} hung past the guard"))
}

/// One fault, sent `offset` after the standby's try was seen: `(takeover, first
/// publication)` after the signal.
async fn round(
    c: &tokio_postgres::Client,
    config: &std::path::Path,
    home: &std::path::Path,
    fault: Signal,
    offset: Duration,
) -> (Duration, Duration) {
    let a = Collector::start(config, home);
    until(c, "the leader", |(l, _, seq)| {
        (l == Some(a.pid()) && seq.is_some()).then_some(())
    })
    .await;
    let b = Collector::start(config, home);
    until(c, "the standby", |(l, s, _)| {
        (l == Some(a.pid()) && s == Some(b.pid())).then_some(())
    })
    .await;
    tokio::time::sleep(offset).await;
    let (_, _, before) = room(c).await;
    let signalled = Instant::now();
    a.signal(fault);
    until(c, "the takeover", |(l, _, _)| {
        (l == Some(b.pid())).then_some(())
    })
    .await;
    let takeover = signalled.elapsed();
    until(c, "the new leader's publication", |(_, _, seq)| {
        (seq > before).then_some(())
    })
    .await;
    let published = signalled.elapsed();
    drop(b);
    drop(a);
    (takeover, published)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "failover measurement: run `cargo bench --bench failover` or scripts/measure-failover.sh"
        );
        return;
    }
    let rounds = knob("ROUNDS", 3);
    let cadence = knob("CADENCE_MS", 2000);
    let timeout = knob("LEADER_TIMEOUT_MS", 10_000);
    let pg = Postgres::start();
    let redis = Redis::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("collect.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\ncadence = \"{cadence}ms\"\n[live]\nleader_timeout = \"{timeout}ms\"\n\
             [ops_store]\nurl = \"{}\"\n[[redis]]\nname = \"cache\"\nurl = \"{}\"\n",
            pg.url_as("collector"),
            redis.url()
        ),
    )
    .expect("write config");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // The first connection as the owner creates the schema; then the documented grants.
        let owner = mastop::store::PgStore::connect(&mastop::config::OpsStoreConfig {
            url: pg.url(),
            password: None,
            lock_ttl: Duration::from_secs(120),
            approval_ttl: Duration::from_secs(900),
            deadline: Duration::from_secs(10),
            tls_ca: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        drop(owner);
        let c = pg.client().await;
        c.batch_execute(mastop::store::GRANTS)
            .await
            .expect("apply the grants");
        c.batch_execute("CREATE ROLE collector LOGIN IN ROLE mastop_collector")
            .await
            .expect("create the collector login");
        println!(
            "cadence {cadence} ms, leader_timeout {timeout} ms: target {} ms",
            cadence + timeout
        );
        for (name, fault) in [("killed", Signal::SIGKILL), ("hung", Signal::SIGSTOP)] {
            let mut takeovers = Vec::new();
            let mut published = Vec::new();
            for i in 0..rounds {
                // The standby's tries and the fault fall at a different phase each round.
                let offset = Duration::from_millis(cadence * i / rounds.max(1));
                let (t, p) = round(&c, &config, dir.path(), fault, offset).await;
                takeovers.push(t.as_millis());
                published.push(p.as_millis());
            }
            takeovers.sort_unstable();
            published.sort_unstable();
            println!(
                "leader {name}: takeover {:?} ms (median {}), first new publication {:?} ms (median {})",
                takeovers,
                takeovers[takeovers.len() / 2],
                published,
                published[published.len() / 2]
            );
        }
    });
}
