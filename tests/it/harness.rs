//! The test harness itself: real servers start, answer, and leave nothing behind.

use crate::support;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{BlackHole, Postgres, Redis};

/// What must be gone once a server is dropped.
struct Traces {
    port: u16,
    pid: u32,
    dir: PathBuf,
}

fn assert_gone(what: &str, t: &Traces) {
    assert!(
        !support::process_alive(t.pid),
        "{what} process {} still running after drop",
        t.pid
    );
    assert!(
        support::port_is_closed(t.port),
        "{what} port {} still accepts connections after drop",
        t.port
    );
    assert!(
        !t.dir.exists(),
        "{what} dir {} still exists after drop",
        t.dir.display()
    );
}

#[test]
fn postgres_starts_answers_and_is_gone_after_drop() {
    let pg = Postgres::start();
    assert_eq!(pg.psql("SELECT 40 + 2"), "42");
    assert_ne!(
        pg.port(),
        5432,
        "must never use the machine's own PostgreSQL port"
    );
    assert!(
        pg.url()
            .ends_with(&format!("127.0.0.1:{}/postgres", pg.port())),
        "{}",
        pg.url()
    );
    let version: u32 = pg
        .psql("SHOW server_version_num")
        .parse()
        .expect("numeric server_version_num");
    assert!(
        version >= 100_000,
        "PostgreSQL 10 or newer expected, got {version}"
    );
    let traces = Traces {
        port: pg.port(),
        pid: pg.pid().expect("running server"),
        dir: pg.dir().to_path_buf(),
    };
    assert!(support::process_alive(traces.pid));
    drop(pg);
    assert_gone("postgres", &traces);
}

#[tokio::test]
async fn postgres_async_client_works() {
    let pg = Postgres::start();
    let client = pg.client().await;
    let rows = client
        .simple_query("SELECT current_user")
        .await
        .expect("simple query");
    let user = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(user.as_deref(), Some("mastop_test"));
}

#[test]
fn redis_starts_answers_and_is_gone_after_drop() {
    let redis = Redis::start();
    assert_eq!(redis.cli(&["PING"]), "PONG");
    assert_ne!(
        redis.port(),
        6379,
        "must never use the machine's own Redis port"
    );
    assert_eq!(redis.cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(redis.cli(&["GET", "greeting"]), "hello");
    let traces = Traces {
        port: redis.port(),
        pid: redis.pid().expect("running server"),
        dir: redis.dir().to_path_buf(),
    };
    drop(redis);
    assert_gone("redis", &traces);
}

#[tokio::test]
async fn redis_with_password_requires_it_and_restarts_on_the_same_port() {
    let mut redis = Redis::start_with_password("s3cret");
    assert_eq!(
        redis.cli(&["PING"]),
        "PONG",
        "cli authenticates with the password"
    );
    let mut conn = redis.connection().await;
    let pong: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .expect("authenticated PING");
    assert_eq!(pong, "PONG");
    let port = redis.port();
    let first_pid = redis.pid().expect("running");
    redis.stop();
    assert!(support::port_is_closed(port));
    redis.restart();
    assert_eq!(redis.port(), port);
    assert_ne!(redis.pid(), Some(first_pid));
    assert_eq!(redis.cli(&["PING"]), "PONG");
}

#[test]
fn servers_are_gone_after_a_panic_inside_the_test() {
    let mut pg_traces = None;
    let mut redis_traces = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let pg = Postgres::start();
        let redis = Redis::start();
        pg_traces = Some(Traces {
            port: pg.port(),
            pid: pg.pid().expect("running"),
            dir: pg.dir().to_path_buf(),
        });
        redis_traces = Some(Traces {
            port: redis.port(),
            pid: redis.pid().expect("running"),
            dir: redis.dir().to_path_buf(),
        });
        panic!("a failing assertion while both servers run");
    }));
    assert!(outcome.is_err(), "the closure panics");
    assert_gone(
        "postgres",
        pg_traces
            .as_ref()
            .expect("postgres started before the panic"),
    );
    assert_gone(
        "redis",
        redis_traces
            .as_ref()
            .expect("redis started before the panic"),
    );
}

#[test]
fn black_hole_accepts_and_never_answers() {
    let hole = BlackHole::start();
    let mut stream = TcpStream::connect(hole.addr()).expect("the black hole accepts");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("set read timeout");
    let mut buf = [0u8; 16];
    let err = stream.read(&mut buf).expect_err("nothing is ever sent");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    // The accept thread counts connections as it takes them; give it a moment, bounded.
    for _ in 0..100 {
        if hole.accepted() >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(hole.accepted(), 1);
    let port = hole.port();
    drop(hole);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set read timeout");
    assert_eq!(
        stream
            .read(&mut buf)
            .expect("held socket is closed on drop"),
        0,
        "EOF after drop"
    );
    assert!(support::port_is_closed(port));
}

#[test]
fn missing_binaries_name_the_debian_package() {
    let empty = tempfile::tempdir().expect("tempdir");
    let err = support::find_pg_bin_dir(empty.path()).expect_err("no PostgreSQL in an empty dir");
    assert!(err.contains("`postgresql`"), "{err}");
    let err = support::find_redis_bin("redis-server", &[empty.path()])
        .expect_err("no Redis in an empty dir");
    assert!(err.contains("`redis-server`"), "{err}");
    // And the real lookup finds the installed ones.
    assert!(support::find_pg_bin_dir(Path::new("/usr/lib/postgresql")).is_ok());
}
