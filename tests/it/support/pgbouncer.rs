//! A throwaway PgBouncer in front of a harness PostgreSQL: a temp config and auth file, a
//! free port, transaction pooling as Mastodon runs it. `SUPERUSER` is its admin user and
//! `stats` a stats-only user.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::postgres::{Postgres, SUPERUSER, find_pg_bin_dir};
use super::process::{START_TIMEOUT, ServerProcess, free_port, log_tail};

const PORT_ATTEMPTS: usize = 5;
/// Server connections per pool: small, so a test can saturate a pool with a few clients.
pub const POOL_SIZE: u32 = 2;

pub struct PgBouncer {
    server: ServerProcess,
    port: u16,
    psql: PathBuf,
    dir: TempDir,
}

/// Where Debian installs PgBouncer.
pub fn find_pgbouncer() -> PathBuf {
    for candidate in ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"] {
        if Path::new(candidate).is_file() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "pgbouncer not found in /usr/sbin or /usr/bin: install the Debian package `pgbouncer` \
         (apt-get install pgbouncer)"
    );
}

/// PgBouncer refuses to run as root; as root it runs as `postgres`, like the server.
fn run_as() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(user)) => Some((user.uid.as_raw(), user.gid.as_raw())),
        _ => panic!(
            "tests run as root and PgBouncer refuses root, but there is no `postgres` user to \
             run it as: install the Debian package `postgresql`, which creates it"
        ),
    }
}

impl PgBouncer {
    /// Starts PgBouncer pooling `pg`'s `postgres` database, or panics with its log.
    pub fn start(pg: &Postgres) -> Self {
        let binary = find_pgbouncer();
        let psql = find_pg_bin_dir(Path::new("/usr/lib/postgresql"))
            .unwrap_or_else(|e| panic!("{e}"))
            .join("psql");
        let user = run_as();
        let dir = tempfile::Builder::new()
            .prefix("mastop-pgbouncer-")
            .tempdir()
            .expect("create a temp dir for PgBouncer");
        std::fs::write(
            dir.path().join("userlist.txt"),
            format!("\"{SUPERUSER}\" \"\"\n\"stats\" \"\"\n"),
        )
        .expect("write the PgBouncer auth file");
        if let Some((uid, gid)) = user {
            for path in [dir.path().to_path_buf(), dir.path().join("userlist.txt")] {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                    .expect("hand the PgBouncer files to the postgres user");
            }
        }
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            match Self::spawn(&binary, user, dir.path(), port, pg.port(), &psql) {
                Ok(server) => {
                    return PgBouncer {
                        server,
                        port,
                        psql,
                        dir,
                    };
                }
                Err(Some(e)) => panic!("{e}"),
                Err(None) => last_error = format!("port {port} was taken"),
            }
        }
        panic!("PgBouncer could not bind a free port in {PORT_ATTEMPTS} attempts: {last_error}");
    }

    /// `Err(None)`: the port was taken, try another.
    fn spawn(
        binary: &Path,
        user: Option<(u32, u32)>,
        dir: &Path,
        port: u16,
        pg_port: u16,
        psql: &Path,
    ) -> Result<ServerProcess, Option<String>> {
        let config = dir.join(format!("pgbouncer-{port}.ini"));
        let log_path = dir.join(format!("pgbouncer-{port}.log"));
        std::fs::write(
            &config,
            format!(
                "[databases]\n\
                 postgres = host=127.0.0.1 port={pg_port} dbname=postgres\n\
                 \n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {auth}\n\
                 admin_users = {SUPERUSER}\n\
                 stats_users = stats\n\
                 pool_mode = transaction\n\
                 default_pool_size = {POOL_SIZE}\n\
                 max_client_conn = 100\n\
                 ignore_startup_parameters = extra_float_digits\n",
                auth = dir.join("userlist.txt").display(),
            ),
        )
        .expect("write the PgBouncer config");
        let log = File::create(&log_path).expect("create the PgBouncer log");
        let log_err = log.try_clone().expect("clone the log handle");
        let mut cmd = Command::new(binary);
        if let Some((uid, gid)) = user {
            for path in [&config, &log_path] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .expect("hand the PgBouncer files to the postgres user");
            }
            cmd.uid(uid)
                .gid(gid)
                .env("HOME", "/tmp")
                .current_dir("/tmp");
        }
        let child = cmd
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .expect("spawn pgbouncer");
        // SIGTERM is PgBouncer's immediate shutdown; SIGINT would wait for clients.
        let mut server = ServerProcess::new(child, Signal::SIGTERM);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = server.exited() {
                let tail = log_tail(&log_path, 30);
                if tail.contains("in use") {
                    return Err(None);
                }
                return Err(Some(format!(
                    "pgbouncer exited during startup ({status}); log:\n{tail}"
                )));
            }
            let out = admin_psql(psql, port, SUPERUSER, "SHOW VERSION").output();
            if let Ok(out) = out
                && out.status.success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                return Err(Some(format!(
                    "PgBouncer did not answer on 127.0.0.1:{port} within {}s; log:\n{}",
                    START_TIMEOUT.as_secs(),
                    log_tail(&log_path, 30)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin console as `user`: `postgres://user@127.0.0.1:PORT/pgbouncer`.
    pub fn admin_url(&self, user: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/pgbouncer", self.port)
    }

    /// The pooled database, as an application would connect.
    pub fn url(&self) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs an admin-console command and returns psql's unaligned output.
    pub fn admin(&self, sql: &str) -> String {
        let out = admin_psql(&self.psql, self.port, SUPERUSER, sql)
            .output()
            .expect("run psql against PgBouncer");
        assert!(
            out.status.success(),
            "`{sql}` on the PgBouncer console failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("pgbouncer-{}.log", self.port)))
            .unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.server.stop();
    }
}

fn admin_psql(psql: &Path, port: u16, user: &str, sql: &str) -> Command {
    let mut cmd = Command::new(psql);
    cmd.args(["-X", "-q", "-A", "-t", "-w", "-h", "127.0.0.1"])
        .args([
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            "pgbouncer",
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "5")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::null());
    cmd
}
