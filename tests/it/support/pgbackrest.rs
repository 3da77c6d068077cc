//! A real pgBackRest repository in a temp dir for one harness cluster: its config file,
//! `stanza-create` and backups run as the cluster's OS user, as a backup host would.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::postgres::SUPERUSER;

pub const PGBACKREST: &str = "/usr/bin/pgbackrest";

pub struct Repository {
    dir: tempfile::TempDir,
    stanza: String,
}

/// The OS user the harness runs PostgreSQL as, when the tests run as root.
fn cluster_user() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .expect("a `postgres` user (the Debian package `postgresql` creates it)");
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

impl Repository {
    /// An empty repository; the config is written by [`Repository::configure`] once the
    /// cluster's port is known.
    pub fn new(stanza: &str) -> Self {
        assert!(
            Path::new(PGBACKREST).exists(),
            "{PGBACKREST} is missing: install the Debian package `pgbackrest` (scripts/test.sh does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("mastop-pgbr-")
            .tempdir()
            .expect("a temp dir for the repository");
        if let Some((uid, gid)) = cluster_user() {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("hand the repository to the postgres user");
        }
        Repository {
            dir,
            stanza: stanza.to_string(),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("pgbackrest.conf")
    }

    /// The `archive_command` that pushes WAL into this repository.
    pub fn archive_command(&self) -> String {
        format!(
            "{PGBACKREST} --config={} --stanza={} archive-push %p",
            self.config().display(),
            self.stanza
        )
    }

    /// Writes the config for a cluster with data in `cluster_dir/data`, its socket in
    /// `cluster_dir`, listening on `port`.
    pub fn configure(&self, cluster_dir: &Path, port: u16) {
        let d = self.dir.path().display();
        let text = format!(
            "[global]\nrepo1-path={d}/repo\nlock-path={d}/lock\nlog-path={d}/log\n\
             spool-path={d}/spool\nlog-level-console=warn\nlog-level-stderr=warn\n\
             log-level-file=off\nstart-fast=y\nrepo1-retention-full=2\n\n\
             [{stanza}]\npg1-path={data}\npg1-port={port}\npg1-socket-path={sock}\npg1-user={SUPERUSER}\n",
            stanza = self.stanza,
            data = cluster_dir.join("data").display(),
            sock = cluster_dir.display(),
        );
        std::fs::write(self.config(), text).expect("write pgbackrest.conf");
        if let Some((uid, gid)) = cluster_user() {
            std::os::unix::fs::chown(self.config(), Some(uid), Some(gid))
                .expect("hand pgbackrest.conf to the postgres user");
        }
    }

    /// Runs `pgbackrest --config=… --stanza=… ARGS` as the cluster's user; panics with
    /// what it said when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let mut cmd = Command::new(PGBACKREST);
        cmd.arg(format!("--config={}", self.config().display()))
            .arg(format!("--stanza={}", self.stanza))
            .args(args)
            .stdin(Stdio::null());
        if let Some((uid, gid)) = cluster_user() {
            cmd.uid(uid)
                .gid(gid)
                .env("HOME", "/tmp")
                .current_dir("/tmp");
        }
        let out = cmd.output().expect("run pgbackrest");
        assert!(
            out.status.success(),
            "pgbackrest {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A `pgbackrest` for an SSH session's PATH: the real binary, told where this
    /// repository's config is (a backup host has it in /etc/pgbackrest).
    pub fn wrapper_script(&self) -> String {
        format!(
            "#!/bin/sh\nexec {PGBACKREST} --config={} \"$@\"\n",
            self.config().display()
        )
    }
}
