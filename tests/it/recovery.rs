//! Recovery after an outage, with real servers stopped and restarted on the same port: a
//! failing source keeps retrying on its cadence (one connection attempt per cadence however
//! long the outage), turns OK on the first poll after its backend answers again, says how
//! it retries in its status, and logs the outage twice (going down, coming back), not once
//! per retry. A refused source still backs off.
//!
//! Outages are counted in cadences (a short cadence keeps the test quick): 20 and 60
//! cadences stand for the 20 s and 60 s outages at a one-second cadence. What is asserted is
//! polls, connection attempts and status transitions, never how long anything took.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::BoxFuture;
use mastop::config::{Defaults, EndpointConfig};
use mastop::model::{ComponentId, SourceState, SourceStatus};
use mastop::sources::{self, Feed, PollResult, Source, SourceSpec, postgres, redis};
use tokio_util::sync::CancellationToken;

use support::{CountingProxy, Postgres, Redis};

const CADENCE: Duration = Duration::from_millis(250);
/// Generous: a loaded machine must not turn a slow answer into a failure.
const DEADLINE: Duration = Duration::from_secs(3);
/// Hang guard only.
const HANG_GUARD: Duration = Duration::from_secs(90);
/// The old backoff (doubling from the cadence) reaches 6 or 7 attempts in 60 cadences;
/// retrying on the cadence makes about 60. Far from both, so a loaded machine cannot blur it.
const MIN_ATTEMPTS_IN_LONG_OUTAGE: usize = 20;

/// Log lines that name `id` (each test uses its own component names).
fn log_lines(id: &ComponentId) -> Vec<String> {
    let text = support::logs::captured_text();
    let needle = format!("component={id}");
    text.lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

// ---- polls as the source saw them -------------------------------------------------------

#[derive(Clone, Debug)]
struct Poll {
    started: Instant,
    /// `None` while running, or when the deadline dropped it.
    ok: Option<bool>,
}

#[derive(Clone, Default)]
struct Polls(Arc<Mutex<Vec<Poll>>>);

impl Polls {
    fn all(&self) -> Vec<Poll> {
        self.0.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// Records every poll the scheduler makes of the source inside.
struct Recorded {
    inner: Box<dyn Source>,
    polls: Polls,
}

impl Source for Recorded {
    fn poll(&mut self) -> BoxFuture<'_, PollResult> {
        let polls = self.polls.clone();
        let index = polls
            .0
            .lock()
            .map(|mut p| {
                p.push(Poll {
                    started: Instant::now(),
                    ok: None,
                });
                p.len() - 1
            })
            .unwrap_or(0);
        let inner = self.inner.poll();
        Box::pin(async move {
            let result = inner.await;
            if let Ok(mut p) = polls.0.lock()
                && let Some(poll) = p.get_mut(index)
            {
                poll.ok = Some(result.is_ok());
            }
            result
        })
    }
}

fn recorded(spec: SourceSpec, polls: &Polls) -> SourceSpec {
    SourceSpec {
        source: Box::new(Recorded {
            inner: spec.source,
            polls: polls.clone(),
        }),
        ..spec
    }
}

// ---- the feed ---------------------------------------------------------------------------

/// Every status the feed published for one component, in order (the feed keeps only the
/// latest, so a fast sequence may skip one; what is asserted holds for every one seen).
struct Watch {
    feed: Feed,
    id: ComponentId,
    seen: Vec<SourceStatus>,
}

impl Watch {
    async fn until(&mut self, what: &str, done: impl Fn(&SourceStatus) -> bool) -> SourceStatus {
        let waited = tokio::time::timeout(HANG_GUARD, async {
            loop {
                for (id, update) in self.feed.drain() {
                    if id == self.id {
                        self.seen.push(update.status);
                    }
                }
                if let Some(last) = self.seen.last()
                    && done(last)
                {
                    return last.clone();
                }
                self.feed.changed().await;
            }
        })
        .await;
        match waited {
            Ok(status) => status,
            Err(_) => panic!(
                "{}: never saw {what}; last status: {:?}",
                self.id,
                self.seen.last()
            ),
        }
    }

    /// Statuses seen from index `from` on.
    fn since(&self, from: usize) -> &[SourceStatus] {
        &self.seen[from.min(self.seen.len())..]
    }
}

fn endpoint(name: &str, url: String) -> EndpointConfig {
    EndpointConfig {
        region: "test".into(),
        ..EndpointConfig::new(name, url)
    }
}

fn defaults() -> Defaults {
    Defaults {
        cadence: CADENCE,
        deadline: DEADLINE,
        ..Defaults::default()
    }
}

fn down(s: &SourceStatus) -> bool {
    s.state == SourceState::Down
}

fn ok(s: &SourceStatus) -> bool {
    s.state == SourceState::Ok
}

// ---- the drill --------------------------------------------------------------------------

/// A server the drill can stop and start again on the same port.
trait Restartable {
    fn stop(&mut self);
    fn restart(&mut self);
}

impl Restartable for Postgres {
    fn stop(&mut self) {
        Postgres::stop(self)
    }
    fn restart(&mut self) {
        Postgres::restart(self)
    }
}

impl Restartable for Redis {
    fn stop(&mut self) {
        Redis::stop(self)
    }
    fn restart(&mut self) {
        Redis::restart(self)
    }
}

/// Stops the server for `cadences` cadences, starts it again on its port, and checks what
/// the source did meanwhile and after. Returns how many polls the stopped server saw.
async fn outage(
    server: &mut dyn Restartable,
    cadences: u32,
    watch: &mut Watch,
    polls: &Polls,
    proxy: &CountingProxy,
) -> usize {
    watch.until("OK before the outage", ok).await;
    let from_status = watch.seen.len();
    let connections_before = proxy.connections();
    let stopped_at = Instant::now();
    server.stop();
    let stopped = Instant::now();

    let first_down = watch.until("down once the server stopped", down).await;
    let down_since = first_down
        .down_since
        .expect("a down source says since when");
    tokio::time::sleep(CADENCE * cadences).await;

    let restarting = Instant::now();
    server.restart();
    let back_at = Instant::now();
    let back_at_wall = SystemTime::now();
    let back = watch
        .until("OK again after the restart", |s| {
            ok(s) && s.last_attempt.is_some_and(|t| t >= back_at_wall)
        })
        .await;
    let all = polls.all();
    let started_in = |from: Instant, to: Instant| -> Vec<&Poll> {
        all.iter()
            .filter(|p| p.started >= from && p.started < to)
            .collect()
    };

    // Every poll of the stopped server failed, and there was at most one per cadence.
    let stopped_polls = started_in(stopped, restarting);
    assert!(
        stopped_polls.iter().all(|p| p.ok != Some(true)),
        "{}: a poll of a stopped server succeeded: {stopped_polls:?}",
        watch.id
    );
    let window = started_in(stopped_at, back_at);
    let span = back_at.duration_since(stopped_at);
    let bound = (span.as_secs_f64() / CADENCE.as_secs_f64()).floor() as usize + 2;
    assert!(
        window.len() <= bound,
        "{}: {} polls in {span:?} at a {CADENCE:?} cadence (bound {bound})",
        watch.id,
        window.len(),
    );
    // Each of those polls was one connection attempt, and the first poll after the restart
    // one more: nothing else connects.
    let connections = proxy.connections() - connections_before;
    assert!(
        connections <= window.len() + 1,
        "{}: {connections} connection attempts for {} polls",
        watch.id,
        window.len()
    );

    // The first poll that started after the server was back succeeded, and every one since.
    let after: Vec<&Poll> = all.iter().filter(|p| p.started >= back_at).collect();
    assert!(
        after.first().is_some_and(|p| p.ok == Some(true)),
        "{}: the first poll after the restart did not succeed: {after:?}",
        watch.id
    );
    assert!(after.iter().all(|p| p.ok != Some(false)), "{after:?}");

    // While down, the status said since when, how often it retried (the cadence, however
    // many failures), and when next; once back, none of that.
    let during: Vec<&SourceStatus> = watch
        .since(from_status)
        .iter()
        .filter(|s| down(s))
        .collect();
    assert!(!during.is_empty());
    for s in &during {
        assert_eq!(s.down_since, Some(down_since), "{s:?}");
        assert_eq!(s.retry_every, Some(CADENCE), "{s:?}");
        let (Some(next), Some(last)) = (s.next_attempt, s.last_attempt) else {
            panic!("a down status without its attempts: {s:?}");
        };
        assert!(
            next.duration_since(last).unwrap_or_default() <= CADENCE + DEADLINE,
            "{s:?}"
        );
        assert!(
            s.retry_text(last)
                .is_some_and(|t| t.contains("retrying every 250ms")),
            "{s:?}"
        );
    }
    assert_eq!(back.down_since, None);
    assert_eq!(back.retry_every, None);
    assert_eq!(back.consecutive_failures, 0);
    assert_eq!(back.retry_text(SystemTime::now()), None);
    stopped_polls.len()
}

async fn drill(server: &mut dyn Restartable, spec: SourceSpec, proxy: &CountingProxy) {
    let polls = Polls::default();
    let id = spec.meta.id.clone();
    let cancel = CancellationToken::new();
    let (feed, _) = sources::spawn_all(vec![recorded(spec, &polls)], &cancel);
    let mut watch = Watch {
        feed,
        id: id.clone(),
        seen: Vec::new(),
    };
    support::logs::captured_log();

    let short = outage(server, 20, &mut watch, &polls, proxy).await;
    let long = outage(server, 60, &mut watch, &polls, proxy).await;
    assert!(
        long >= MIN_ATTEMPTS_IN_LONG_OUTAGE,
        "{id}: only {long} attempts in an outage of 60 cadences: the retry interval grew"
    );
    assert!(short >= 1);
    cancel.cancel();

    // Two outages: two lines going down, two coming back, nothing per retry.
    let lines = log_lines(&id);
    let failing = lines
        .iter()
        .filter(|l| l.contains("source failing"))
        .count();
    let back = lines
        .iter()
        .filter(|l| l.contains("source answering again"))
        .count();
    assert_eq!((failing, back), (2, 2), "{lines:#?}");
    assert_eq!(lines.len(), 4, "{lines:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_comes_back_on_the_first_poll_after_a_restart_and_never_floods() {
    let mut pg = Postgres::start();
    let proxy = CountingProxy::start(pg.port());
    let url = pg
        .url()
        .replace(&format!(":{}/", pg.port()), &format!(":{}/", proxy.port()));
    let spec = postgres::spec(&endpoint("recovering", url), &defaults());
    drill(&mut pg, spec, &proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_comes_back_on_the_first_poll_after_a_restart_and_never_floods() {
    let mut server = Redis::start();
    let proxy = CountingProxy::start(server.port());
    let url = format!("redis://127.0.0.1:{}/", proxy.port());
    let spec = redis::spec(&endpoint("recovering", url), &defaults());
    drill(&mut server, spec, &proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_source_retries_ever_more_slowly() {
    let pg = Postgres::start();
    pg.psql("CREATE ROLE outsider NOLOGIN");
    let spec = postgres::spec(&endpoint("refused", pg.url_as("outsider")), &defaults());
    let id = spec.meta.id.clone();
    support::logs::captured_log();
    let cancel = CancellationToken::new();
    let (feed, _) = sources::spawn_all(vec![spec], &cancel);
    let mut watch = Watch {
        feed,
        id: id.clone(),
        seen: Vec::new(),
    };
    let status = watch
        .until("three refusals", |s| {
            s.state == SourceState::Denied && s.consecutive_failures >= 3
        })
        .await;
    cancel.cancel();
    // Each refusal doubles the wait: the server logs every refused login.
    let waits: Vec<(u32, Duration)> = watch
        .seen
        .iter()
        .filter(|s| s.state == SourceState::Denied)
        .filter_map(|s| Some((s.consecutive_failures, s.retry_every?)))
        .collect();
    for (failures, every) in &waits {
        assert_eq!(*every, CADENCE * 2u32.pow(*failures), "{waits:?}");
    }
    assert!(status.retry_text(SystemTime::now()).is_some());
    let lines = log_lines(&id);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("source failing"))
            .count(),
        1,
        "{lines:#?}"
    );
}
