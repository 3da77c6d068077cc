//! The room under load: one collector polls a real PostgreSQL and Redis ("production") and
//! fifty watchers follow it through a real PostgreSQL ops store, each a client of its own
//! (its own sessions, LISTEN, fetch what changed). Production carries one console's load,
//! not fifty-one: its own counters (pg_stat_statements, `INFO commandstats`, connections
//! opened) match those of one directly polling console over the same number of polls.
//! Every watcher sees a change made in production and ends on the collector's last
//! publication.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use mastop::config::Config;
use mastop::engine::{Engine, Options};
use mastop::live::collector::collect;
use mastop::live::watch::{Watcher, follow};
use mastop::model::{Fleet, SourceState};
use mastop::sources::scheduler::poll_bounded;
use mastop::store::live::CHANNEL;
use support::{CountingProxy, Postgres, PostgresOptions, Redis};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::live::{guarded, store};

const WATCHERS: usize = 50;
/// Publications of each component to wait for before stopping the collector.
const ROUNDS: usize = 12;
const POSTGRES: &str = "postgres/primary";
const REDIS: &str = "redis/cache";
/// The test's own role on production, so its statements are told from mastop's.
const OBSERVER: &str = "load_observer";

/// What one watcher's fleet shows, as far as this test asks.
#[derive(Clone, Debug, Default, PartialEq)]
struct Seen {
    /// Component id → when its last poll started (ms), as the watcher's fleet has it.
    attempts: BTreeMap<String, Option<u64>>,
    /// Both components answered and drawn with a reading.
    answered: bool,
    redis_keys: u64,
    pg_idle_in_transaction: i64,
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn seen(fleet: &Fleet) -> Seen {
    let mut out = Seen::default();
    let mut answered = 0;
    for c in fleet.components() {
        let id = c.meta.id.to_string();
        out.attempts
            .insert(id.clone(), c.status.last_attempt.map(ms));
        let Some(json) = c.reading.as_ref().map(|r| r.to_json()) else {
            continue;
        };
        if c.status.state == SourceState::Ok {
            answered += 1;
        }
        match id.as_str() {
            REDIS => out.redis_keys = json["keyspace"][0]["keys"].as_u64().unwrap_or(0),
            POSTGRES => {
                out.pg_idle_in_transaction = json["sessions"]["idle_in_transaction"]
                    .as_i64()
                    .unwrap_or(-1)
            }
            _ => {}
        }
    }
    out.answered = answered == 2;
    out
}

fn engine(pg_port: u16, redis_port: u16) -> Engine {
    let toml = format!(
        "[defaults]\ncadence = \"250ms\"\ndeadline = \"5s\"\n\
         [[postgres]]\nname = \"primary\"\nurl = \"postgres://{}@127.0.0.1:{pg_port}/postgres\"\n\
         [[redis]]\nname = \"cache\"\nurl = \"redis://127.0.0.1:{redis_port}/0\"\n",
        support::SUPERUSER
    );
    let (cfg, _): (Config, _) =
        mastop::config::load_str(&toml, "t.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    Engine::new(
        cfg,
        Options {
            readonly: true,
            demo: None,
        },
    )
}

/// mastop's statements on production since the last reset: normalised text → calls.
/// Everything the test itself runs is under [`OBSERVER`] and left out.
async fn statements(observer: &tokio_postgres::Client) -> BTreeMap<String, i64> {
    observer
        .query(
            "SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, sum(calls)::int8 AS calls \
             FROM pg_stat_statements WHERE userid = (SELECT oid FROM pg_roles WHERE rolname = $1) \
             GROUP BY 1",
            &[&support::SUPERUSER],
        )
        .await
        .expect("read pg_stat_statements")
        .iter()
        .map(|r| (r.get("query"), r.get("calls")))
        .collect()
}

async fn reset_statements(observer: &tokio_postgres::Client) {
    observer
        .execute("SELECT pg_stat_statements_reset()", &[])
        .await
        .expect("reset pg_stat_statements");
}

/// Calls per command since the last `CONFIG RESETSTAT`, the reset itself left out. The
/// `INFO` that reads them is counted only after it answers, so it is not among them.
fn commands(redis: &Redis) -> BTreeMap<String, u64> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .filter(|(name, _)| name != "config|resetstat")
        .collect()
}

fn reset_commands(redis: &Redis) {
    assert_eq!(redis.cli(&["CONFIG", "RESETSTAT"]), "OK");
}

/// Waits until every watcher's fleet satisfies `done`.
async fn all_see(what: &str, seen: &mut [watch::Receiver<Seen>], done: impl Fn(&Seen) -> bool) {
    for (i, rx) in seen.iter_mut().enumerate() {
        guarded(what, rx.wait_for(&done))
            .await
            .unwrap_or_else(|_| panic!("watcher {i} stopped before it saw {what}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_watchers_put_no_load_on_production_and_all_see_its_changes() {
    let ops = Postgres::start_with(PostgresOptions {
        // Two sessions per watcher (reads, and LISTEN) and a few for the rest.
        max_connections: 160,
        ..PostgresOptions::default()
    });
    let production = Postgres::start_with(PostgresOptions {
        preload: vec!["pg_stat_statements".into()],
        ..PostgresOptions::default()
    });
    production.psql("CREATE EXTENSION pg_stat_statements");
    production.psql(&format!("CREATE ROLE {OBSERVER} LOGIN SUPERUSER"));
    let redis = Redis::start();
    // Production as the collector reaches it, through proxies that count its connections.
    let pg_door = CountingProxy::start(production.port());
    let redis_door = CountingProxy::start(redis.port());
    let observer = production.client_as(OBSERVER).await;

    let room = Arc::new(store(&ops).await);
    let mut heard = guarded("listen", room.listen(CHANNEL))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Fifty watchers, each with its own store client, following the room.
    let stop_watching = CancellationToken::new();
    let mut watchers = Vec::with_capacity(WATCHERS);
    let mut views = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let client = store(&ops).await;
        let (tx, rx) = watch::channel(Seen::default());
        let cancel = stop_watching.clone();
        watchers.push(tokio::spawn(async move {
            let mut watcher = Watcher::new(Default::default(), Default::default());
            let followed = follow(&client, &mut watcher, &cancel, |fleet| {
                tx.send_replace(seen(fleet));
            })
            .await;
            (followed, watcher)
        }));
        views.push(rx);
    }

    // The collector polls production from a clean count.
    reset_statements(&observer).await;
    reset_commands(&redis);
    let collector = engine(pg_door.port(), redis_door.port());
    let stop_collecting = CancellationToken::new();
    let collecting = {
        let (room, cancel) = (Arc::clone(&room), stop_collecting.clone());
        tokio::spawn(async move { collect(&collector, &room, "load-test", &cancel).await })
    };
    all_see("both components answer", &mut views, |s| s.answered).await;

    // A change in production: a key in Redis, a session idle in a transaction in
    // PostgreSQL. Every watcher sees both.
    assert_eq!(redis.cli(&["SET", "live-load-marker", "1"]), "OK");
    let idle = production.client_as(OBSERVER).await;
    idle.batch_execute("BEGIN; SELECT 1")
        .await
        .expect("a transaction left idle");
    all_see("the change in production", &mut views, |s| {
        s.redis_keys == 1 && s.pg_idle_in_transaction == 1
    })
    .await;

    // A few more rounds, then stop the collector just after both sources answered, while
    // they wait for the next round, so no poll is cut short.
    let mut announced = (0, 0);
    let note = |payload: &str, announced: &mut (usize, usize)| match payload {
        POSTGRES => announced.0 += 1,
        REDIS => announced.1 += 1,
        _ => {}
    };
    while announced.0 < ROUNDS || announced.1 < ROUNDS {
        let n = guarded("a publication", heard.notices.recv())
            .await
            .expect("still listening");
        note(n.payload(), &mut announced);
    }
    while let Ok(n) = heard.notices.try_recv() {
        note(n.payload(), &mut announced);
    }
    let before = announced;
    while announced.0 == before.0 || announced.1 == before.1 {
        let n = guarded("a publication", heard.notices.recv())
            .await
            .expect("still listening");
        note(n.payload(), &mut announced);
    }
    stop_collecting.cancel();
    let tally = guarded("collector stops", collecting)
        .await
        .expect("collector task");
    assert_eq!(tally.failed_rounds, 0, "{tally:?}");

    let collected_statements = statements(&observer).await;
    let mut collected_commands = commands(&redis);
    // The test's own SET is the one command production saw that no poll sent.
    match collected_commands.get_mut("set") {
        Some(n) if *n == 1 => {
            collected_commands.remove("set");
        }
        other => panic!("the test sent one SET; production counted {other:?}"),
    }
    // Each Redis poll is one INFO; each PostgreSQL poll runs its per-poll statements once.
    let redis_polls = collected_commands
        .get("info")
        .map_or(0, |n| i64::try_from(*n).unwrap_or(i64::MAX));
    let pg_polls = collected_statements
        .iter()
        .filter(|(q, _)| q.starts_with("/* mastop */"))
        .map(|(_, calls)| *calls)
        .max()
        .unwrap_or(0);
    let at_least = i64::try_from(ROUNDS).unwrap_or(i64::MAX);
    assert!(
        redis_polls >= at_least && pg_polls >= at_least,
        "{redis_polls} Redis and {pg_polls} PostgreSQL polls"
    );
    // Every publication but the first (the fleet before any poll) carries a poll's
    // result, so the collector polled at least that often.
    assert!(
        i64::try_from(tally.published).unwrap_or(i64::MAX) <= redis_polls + pg_polls + 2,
        "{} publications from {redis_polls} + {pg_polls} polls",
        tally.published
    );

    // Every watcher ends on the collector's last publication.
    let last = guarded("read the room", room.live_since(0, &[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let latest_seq = last.iter().map(|p| p.seq).max().expect("a publication");
    let final_attempts: BTreeMap<String, Option<u64>> = last
        .iter()
        .map(|p| (p.component.id.clone(), p.component.status.last_attempt_ms))
        .collect();
    all_see("the collector's last publication", &mut views, |s| {
        s.attempts == final_attempts
    })
    .await;
    stop_watching.cancel();
    for (i, task) in watchers.into_iter().enumerate() {
        let (followed, watcher) = guarded("watcher stops", task).await.expect("watcher task");
        followed.unwrap_or_else(|e| panic!("watcher {i} failed: {e}"));
        assert_eq!(watcher.last_seq(), latest_seq, "watcher {i}");
    }

    // One console polling the same production directly, as its scheduler does, for the
    // same number of polls.
    let direct_pg = CountingProxy::start(production.port());
    let direct_redis = CountingProxy::start(redis.port());
    reset_statements(&observer).await;
    reset_commands(&redis);
    let console = engine(direct_pg.port(), direct_redis.port());
    for mut spec in console.sources() {
        let polls = match spec.meta.id.to_string().as_str() {
            POSTGRES => pg_polls,
            REDIS => redis_polls,
            other => panic!("unexpected component {other}"),
        };
        for _ in 0..polls {
            let outcome = guarded("a direct poll", poll_bounded(&mut spec)).await;
            assert!(
                matches!(outcome, Ok(Ok(_))),
                "{}: {:?}",
                spec.meta.id,
                outcome.map(|r| r.err())
            );
        }
    }
    let direct_statements = statements(&observer).await;
    let direct_commands = commands(&redis);

    eprintln!(
        "{WATCHERS} watchers; the collector polled PostgreSQL {pg_polls} and Redis {redis_polls} \
         times and published {} components; production saw {} statements and {} commands",
        tally.published,
        collected_statements.values().sum::<i64>(),
        collected_commands.values().sum::<u64>()
    );
    assert_eq!(
        collected_statements, direct_statements,
        "PostgreSQL: the room's statements (left) against one console's (right); a collector \
         that ran past the source's half-minute tier would differ by that tier's reads"
    );
    assert_eq!(
        collected_commands, direct_commands,
        "Redis: the room's commands (left) against one console's (right)"
    );
    assert_eq!(
        (pg_door.connections(), redis_door.connections()),
        (direct_pg.connections(), direct_redis.connections()),
        "connections opened to production: the room's against one console's"
    );
    assert_eq!(direct_pg.connections(), 1);
    assert_eq!(direct_redis.connections(), 1);
    drop(idle);
}
