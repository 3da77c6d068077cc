//! TLS to PostgreSQL against a real server with `ssl=on` and a certificate from a private
//! CA made here with the `openssl` CLI: `require` verifies against `tls_ca` (and refuses an
//! untrusted or wrong CA with a message that says which), `prefer` falls back to plain
//! only when the certificate cannot be trusted, and `disable` stays plain.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use mastop::actions::action::{Check, Target};
use mastop::actions::executor::{Executor, PostgresExecutor};
use mastop::actions::{Action, Risk, Role, Session};
use mastop::config::{EndpointConfig, OpsStoreConfig};
use mastop::sources::postgres::PostgresSource;
use mastop::sources::{PollError, Schedule, Source};
use mastop::store::PgStore;
use support::{Postgres, PostgresOptions};
use tempfile::TempDir;

/// A hang guard only: a connect to a local server takes milliseconds.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// A CA, a server certificate it signed for 127.0.0.1 and localhost, and an unrelated CA.
struct Certs {
    dir: TempDir,
}

impl Certs {
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
    fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }
    fn cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `openssl` ({e}): these tests make their certificates with it — install the Debian package `openssl`"
            )
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn self_signed_ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn make_certs() -> Certs {
    let dir = tempfile::Builder::new()
        .prefix("mastop-tls-")
        .tempdir()
        .expect("create a temp dir for certificates");
    let path = dir.path();
    self_signed_ca(path, "ca", "mastop test CA");
    self_signed_ca(path, "other-ca", "some other CA");
    openssl(
        path,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        path.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n\
         basicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\n",
    )
    .expect("write the certificate extensions");
    openssl(
        path,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    let certs = Certs { dir };
    // PostgreSQL refuses a key others can read, and must own it when it runs as `postgres`
    // (the harness does that when the tests run as root); it also has to reach the dir.
    std::fs::set_permissions(certs.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("open the certificate dir to the server");
    std::fs::set_permissions(certs.key(), std::fs::Permissions::from_mode(0o600))
        .expect("restrict the server key");
    if nix::unistd::geteuid().is_root()
        && let Ok(Some(user)) = nix::unistd::User::from_name("postgres")
    {
        for file in [certs.key(), certs.cert()] {
            std::os::unix::fs::chown(&file, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .expect("hand the server's certificate and key to the postgres user");
        }
    }
    certs
}

fn start_with_ssl(certs: &Certs) -> Postgres {
    Postgres::start_with(PostgresOptions {
        settings: vec![
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), certs.cert().display().to_string()),
            ("ssl_key_file".into(), certs.key().display().to_string()),
        ],
        ..PostgresOptions::default()
    })
}

fn endpoint(url: String, tls_ca: Option<PathBuf>) -> EndpointConfig {
    EndpointConfig {
        tls_ca,
        ..EndpointConfig::new("primary", url)
    }
}

async fn poll(url: String, tls_ca: Option<PathBuf>) -> Result<(), PollError> {
    let schedule = Schedule {
        cadence: Duration::from_secs(1),
        deadline: Duration::from_secs(10),
    };
    let mut source = PostgresSource::new(&endpoint(url, tls_ca), schedule);
    tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
        .map(|_| ())
}

fn failure(result: Result<(), PollError>) -> String {
    match result {
        Ok(()) => panic!("the poll succeeded, but it should have been refused"),
        Err(PollError::Failed(text)) => text,
        Err(other) => panic!("expected a failure, got {other:?}"),
    }
}

/// Whether the server sees the sessions tagged `application_name` as encrypted; the
/// source and the store keep theirs open, so they can be looked up from outside.
fn ssl_of(pg: &Postgres, application_name: &str) -> String {
    pg.psql(&format!(
        "SELECT string_agg(s.ssl::text, ',') FROM pg_stat_ssl s \
         JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{application_name}'"
    ))
}

fn url(pg: &Postgres, sslmode: &str) -> String {
    format!("{}?sslmode={sslmode}", pg.url())
}

#[tokio::test]
async fn require_with_tls_ca_connects_over_verified_tls() {
    let certs = make_certs();
    let pg = start_with_ssl(&certs);

    let schedule = Schedule {
        cadence: Duration::from_secs(1),
        deadline: Duration::from_secs(10),
    };
    let mut source =
        PostgresSource::new(&endpoint(url(&pg, "require"), Some(certs.ca())), schedule);
    if let Err(e) = tokio::time::timeout(HANG_GUARD, source.poll())
        .await
        .expect("poll hung past the hang guard")
    {
        panic!("poll over TLS failed: {e:?}\n{}", pg.log_tail());
    }
    assert_eq!(ssl_of(&pg, "mastop"), "true");

    // The executor checks from inside its own session.
    let session = Session::current(Some(Role::Oncall), false);
    let write = session.write_capability().expect("on-call may write");
    let executor = PostgresExecutor::new(&write, endpoint(url(&pg, "require"), Some(certs.ca())));
    let action = Action {
        kind: "test.ssl".into(),
        title: "check the session is encrypted".into(),
        target: Target {
            component: "postgres/primary".into(),
            object: String::new(),
            name: "primary".into(),
            identity: None,
        },
        risk: Risk::Low,
        operations: Vec::new(),
        precondition: Some(Check::Sql {
            text: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()".into(),
            params: Vec::new(),
            expect: "true".into(),
        }),
        cooldown: Duration::ZERO,
        deadline: Duration::from_secs(10),
    };
    let checked = tokio::time::timeout(HANG_GUARD, executor.recheck(&action))
        .await
        .expect("recheck hung past the hang guard");
    assert_eq!(checked, Ok("still true".to_string()));

    let store = OpsStoreConfig {
        url: url(&pg, "require"),
        password: None,
        lock_ttl: Duration::from_secs(120),
        approval_ttl: Duration::from_secs(900),
        deadline: Duration::from_secs(10),
        tls_ca: Some(certs.ca()),
    };
    let opened = tokio::time::timeout(HANG_GUARD, PgStore::connect(&store))
        .await
        .expect("ops store connect hung past the hang guard");
    let _store = opened.unwrap_or_else(|e| panic!("ops store over TLS failed: {e}"));
    assert_eq!(ssl_of(&pg, "mastop-ops"), "true");
}

#[tokio::test]
async fn require_refuses_a_certificate_it_cannot_trust() {
    let certs = make_certs();
    let pg = start_with_ssl(&certs);

    let untrusted = failure(poll(url(&pg, "require"), None).await);
    assert!(
        untrusted.contains(&format!("127.0.0.1:{}", pg.port()))
            && untrusted.contains("not signed by the system trust store")
            && untrusted.contains("set tls_ca"),
        "{untrusted}"
    );

    let other = certs.other_ca();
    let wrong = failure(poll(url(&pg, "require"), Some(other.clone())).await);
    assert!(
        wrong.contains(&format!("not signed by tls_ca {}", other.display())),
        "{wrong}"
    );

    let missing = certs.dir.path().join("nowhere.pem");
    let unreadable = failure(poll(url(&pg, "require"), Some(missing.clone())).await);
    assert!(
        unreadable.contains(&format!("cannot read tls_ca {}", missing.display())),
        "{unreadable}"
    );

    let store = OpsStoreConfig {
        url: url(&pg, "require"),
        password: None,
        lock_ttl: Duration::from_secs(120),
        approval_ttl: Duration::from_secs(900),
        deadline: Duration::from_secs(10),
        tls_ca: Some(other.clone()),
    };
    let refused = match tokio::time::timeout(HANG_GUARD, PgStore::connect(&store))
        .await
        .expect("ops store connect hung past the hang guard")
    {
        Ok(_) => panic!("the ops store trusted a certificate from another CA"),
        Err(e) => e,
    };
    assert!(
        refused.contains("ops store") && refused.contains("not signed by tls_ca"),
        "{refused}"
    );
}

#[tokio::test]
async fn disable_stays_plain_and_prefer_falls_back_only_when_it_cannot_verify() {
    let certs = make_certs();
    let pg = start_with_ssl(&certs);

    let schedule = Schedule {
        cadence: Duration::from_secs(1),
        deadline: Duration::from_secs(10),
    };
    let cases = [
        ("disable", Some(certs.ca()), "mastop-disable", "false"),
        ("prefer", None, "mastop-prefer-untrusted", "false"),
        ("prefer", Some(certs.ca()), "mastop-prefer-trusted", "true"),
    ];
    let mut sources = Vec::new();
    for (mode, tls_ca, app, expected) in cases {
        let url = format!("{}?sslmode={mode}&application_name={app}", pg.url());
        let mut source = PostgresSource::new(&endpoint(url, tls_ca), schedule);
        if let Err(e) = tokio::time::timeout(HANG_GUARD, source.poll())
            .await
            .expect("poll hung past the hang guard")
        {
            panic!("sslmode={mode} failed: {e:?}");
        }
        assert_eq!(ssl_of(&pg, app), expected, "sslmode={mode} ({app})");
        sources.push(source);
    }
}

#[tokio::test]
async fn require_says_so_when_the_server_has_no_tls() {
    let pg = Postgres::start();
    let text = failure(poll(url(&pg, "require"), None).await);
    assert!(
        text.contains("does not accept TLS") && text.contains("sslmode"),
        "{text}"
    );
}
