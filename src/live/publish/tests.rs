use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::*;
use crate::engine::poll::fleet_from;
use crate::model::{Fleet, Reading};
use crate::sources::elasticsearch::ElasticsearchReading;
use crate::sources::postgres::{PostgresReading, RawQuery};
use crate::sources::sidekiq::{Private, SidekiqReading};

/// xorshift64*: a fixed seed per case, so a failure names the seed that reproduces it.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// Member data and backend errors an attacker or an accident can put in production: a
/// marker unique to the case, wrapped in escape sequences, quotes, JSON and huge filler.
fn hostile(rng: &mut Rng, case: u64) -> String {
    let marker = format!("leak{case:x}q{:x}", rng.next() % 0xffff_ffff);
    let wrap = rng.pick(&[
        "alice+{}@example.org",
        "\u{1b}]52;c;{}\u{7}",
        "\u{1b}[2J{}\u{1b}[0m",
        "'{}' OR '1'='1",
        "{\"password\":\"{}\"}",
        "{}\u{0}\u{202e}",
        "Bearer {}",
    ]);
    let filler = "x".repeat((rng.next() % 4096) as usize);
    format!("{}{filler}", wrap.replace("{}", &marker))
}

fn marker_of(hostile: &str) -> &str {
    let start = hostile.find("leak").unwrap_or(0);
    let end = hostile[start..]
        .find(|c: char| !c.is_ascii_alphanumeric())
        .map_or(hostile.len(), |e| start + e);
    &hostile[start..end]
}

/// The demo fleet with `secret` planted wherever private data and error text live.
fn planted(secret: &str) -> Fleet {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let readings = crate::demo::readings_at(Duration::from_secs(420), now)
        .into_iter()
        .map(|(meta, reading)| (meta, plant(reading, secret)))
        .collect();
    let mut fleet = fleet_from(readings, now, Duration::from_secs(2), Default::default());
    let ids: Vec<_> = fleet
        .components()
        .iter()
        .map(|c| c.meta.id.clone())
        .collect();
    for id in ids {
        let Some(c) = fleet.get(&id) else { continue };
        let mut status = c.status.clone();
        status.error = Some(format!("connection to db failed: {secret}"));
        status.state = SourceState::Down;
        fleet.apply(&id, status, None);
    }
    fleet
}

fn plant(reading: Arc<dyn Reading>, secret: &str) -> Arc<dyn Reading> {
    let any = reading.as_any();
    if let Some(pg) = any.downcast_ref::<PostgresReading>() {
        let mut pg = pg.clone();
        if let Some(activity) = &mut pg.views.activity {
            for b in &mut activity.backends {
                b.raw_query =
                    RawQuery::new(format!("SELECT 1 FROM users WHERE email = '{secret}'"));
            }
        }
        let mut archiver = pg.views.archiver.clone().unwrap_or_default();
        archiver.error = Some(secret.to_string());
        pg.views.archiver = Some(archiver);
        return Arc::new(pg);
    }
    if let Some(sk) = any.downcast_ref::<SidekiqReading>() {
        let mut sk = sk.clone();
        for set in [&mut sk.retry_set, &mut sk.dead_set, &mut sk.scheduled_set]
            .into_iter()
            .flatten()
        {
            for entry in &mut set.entries {
                entry.member = Private::new(format!("{{\"args\":[\"{secret}\"]}}").as_bytes());
            }
        }
        sk.problems.push(format!("unreadable job: {secret}"));
        return Arc::new(sk);
    }
    if let Some(es) = any.downcast_ref::<ElasticsearchReading>() {
        let mut es = es.clone();
        es.indices_error = Some(secret.to_string());
        return Arc::new(es);
    }
    reading
}

#[test]
fn nothing_private_leaves_the_collector_whatever_production_holds() {
    for case in 0..64u64 {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ case.wrapping_mul(0x1000_0001));
        let secret = hostile(&mut rng, case);
        let marker = marker_of(&secret).to_string();
        assert!(marker.starts_with("leak"), "case {case}: {marker}");
        let fleet = planted(&secret);
        let mut published = 0;
        for component in fleet.components() {
            let live = LiveComponent::of(component);
            let text = serde_json::to_string(&live).expect("encodes");
            assert!(
                !text.contains(&marker),
                "case {case}: {} leaks: {text:.300}",
                live.id
            );
            assert!(
                !text.contains('\u{1b}'),
                "case {case}: {} carries an escape",
                live.id
            );
            published += usize::from(live.reading.is_some());
        }
        assert!(
            published >= 6,
            "case {case}: only {published} readings published"
        );
    }
}

#[test]
fn withheld_text_keeps_the_shape_so_the_reading_still_decodes() {
    let secret = "leak0q1 \u{1b}[2J";
    let fleet = planted(secret);
    for component in fleet.components() {
        let live = LiveComponent::of(component);
        let Some(stored) = &live.reading else {
            continue;
        };
        let decoded = stored.decode();
        assert!(
            decoded
                .as_any()
                .downcast_ref::<crate::sources::stored::Unreadable>()
                .is_none(),
            "{}: {:?}",
            live.id,
            decoded.detail()
        );
        assert_eq!(
            decoded.figures(),
            component
                .reading
                .as_ref()
                .map(|r| r.figures())
                .unwrap_or_default()
        );
        assert_eq!(live.status.status().error.as_deref(), Some(WITHHELD));
    }
}

#[test]
fn status_moments_survive_to_the_millisecond() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
    let status = SourceStatus {
        state: SourceState::Down,
        last_ok: Some(t),
        last_attempt: Some(t + Duration::from_secs(3)),
        error: Some("refused".into()),
        consecutive_failures: 4,
        cadence: Duration::from_millis(2500),
        down_since: Some(t),
        retry_every: Some(Duration::from_secs(8)),
        next_attempt: Some(t + Duration::from_secs(11)),
    };
    let back = LiveStatus::of(&status).status();
    assert_eq!(
        back,
        SourceStatus {
            error: Some(WITHHELD.into()),
            ..status
        }
    );
}

#[test]
fn the_past_splits_off_and_joins_back_losslessly() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut fleet = fleet_from(
        crate::demo::readings_at(Duration::from_secs(60), now),
        now,
        Duration::from_secs(2),
        Default::default(),
    );
    for k in 1..4u64 {
        let later = now + Duration::from_secs(2 * k);
        for (meta, reading) in crate::demo::readings_at(Duration::from_secs(60 + 2 * k), later) {
            let status = SourceStatus {
                state: SourceState::Ok,
                last_ok: Some(later),
                last_attempt: Some(later),
                ..SourceStatus::pending(Duration::from_secs(2))
            };
            fleet.apply(&meta.id, status, Some(reading));
        }
    }
    let mut sizes = (0, 0);
    for c in fleet.components() {
        let whole = LiveComponent::of(c);
        let (present, past) = whole.clone().split();
        assert!(present.history.is_empty() && present.breakdown.is_empty());
        let present_json = serde_json::to_string(&present).expect("encodes");
        let past_json = serde_json::to_string(&past).expect("encodes");
        let (present, past): (LiveComponent, LivePast) = (
            serde_json::from_str(&present_json).expect("decodes"),
            serde_json::from_str(&past_json).expect("decodes"),
        );
        assert_eq!(present.with_past(past), whole, "{}", c.meta.id);
        sizes.0 += present_json.len();
        sizes.1 += serde_json::to_string(&whole).expect("encodes").len();
    }
    // Even four polls of past outweigh the present of the whole fleet.
    assert!(sizes.0 < sizes.1, "{sizes:?}");
}
