//! Secret references. A config never holds a secret itself, only where to get it: an env
//! variable, a file, a 1Password item (`op read`), or a command. Resolved values live in
//! `secrecy` types, so they never appear in Debug output, logs or the screen.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    /// A 1Password secret reference, `op://vault/item/field`.
    OnePassword(String),
    /// A command whose standard output is the secret, run with `sh -c`.
    Command(String),
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The reference is not secret, but keep Debug short and predictable.
        write!(f, "SecretRef({self})")
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(n) => write!(f, "env:{n}"),
            SecretRef::File(p) => write!(f, "file:{}", p.display()),
            SecretRef::OnePassword(r) => f.write_str(r),
            SecretRef::Command(_) => f.write_str("cmd:…"),
        }
    }
}

pub const SECRET_FORMS: &str =
    "give it as `env:NAME`, `file:/path`, `op://vault/item/field` or `cmd:command`";

impl std::str::FromStr for SecretRef {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let nonempty = |v: &str, what: &str| {
            if v.trim().is_empty() {
                Err(format!("`{what}` needs a value after the colon"))
            } else {
                Ok(())
            }
        };
        if let Some(name) = s.strip_prefix("env:") {
            nonempty(name, "env:")?;
            Ok(SecretRef::Env(name.to_string()))
        } else if let Some(path) = s.strip_prefix("file:") {
            nonempty(path, "file:")?;
            Ok(SecretRef::File(PathBuf::from(path)))
        } else if s.starts_with("op://") {
            if s.trim_start_matches("op://")
                .split('/')
                .filter(|p| !p.is_empty())
                .count()
                < 3
            {
                return Err("a 1Password reference has the form `op://vault/item/field`".into());
            }
            Ok(SecretRef::OnePassword(s.to_string()))
        } else if let Some(cmd) = s.strip_prefix("cmd:") {
            nonempty(cmd, "cmd:")?;
            Ok(SecretRef::Command(cmd.to_string()))
        } else {
            Err(format!(
                "a secret must be a reference, not the secret itself: {SECRET_FORMS}"
            ))
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

const RESOLVE_DEADLINE: Duration = Duration::from_secs(15);

impl SecretRef {
    /// Fetches the secret. Errors say where mastop looked, never what it found.
    pub async fn resolve(&self) -> Result<SecretString, String> {
        self.resolve_with_op(std::ffi::OsStr::new("op")).await
    }

    /// As [`SecretRef::resolve`], with the 1Password CLI at `op` (a path or a name on PATH).
    pub async fn resolve_with_op(&self, op: &std::ffi::OsStr) -> Result<SecretString, String> {
        let value = match self {
            SecretRef::Env(name) => std::env::var(name)
                .map_err(|_| format!("environment variable {name} is not set"))?,
            SecretRef::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?,
            SecretRef::OnePassword(reference) => {
                run_for_secret(
                    tokio::process::Command::new(op).args(["read", "--no-newline", reference]),
                    "op read",
                )
                .await?
            }
            SecretRef::Command(cmd) => {
                run_for_secret(
                    tokio::process::Command::new("sh").args(["-c", cmd]),
                    "secret command",
                )
                .await?
            }
        };
        Ok(SecretString::from(
            value.trim_end_matches(['\n', '\r']).to_string(),
        ))
    }
}

async fn run_for_secret(cmd: &mut tokio::process::Command, what: &str) -> Result<String, String> {
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(RESOLVE_DEADLINE, cmd.output())
        .await
        .map_err(|_| {
            format!(
                "{what} gave no answer within {}s",
                RESOLVE_DEADLINE.as_secs()
            )
        })?
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    if !output.status.success() {
        // stderr of `op` names the item and the problem; it never contains the secret.
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{what} failed ({}): {}",
            output.status,
            crate::sanitize::sanitize_truncated(stderr.trim(), 200)
        ));
    }
    String::from_utf8(output.stdout)
        .map_err(|_| format!("{what} printed something that is not UTF-8"))
}

/// A secret reference whose value is fetched on first use and kept, and fetched again after
/// [`CachedSecret::forget`] (when the server refuses it: it may have been rotated).
#[derive(Default)]
pub struct CachedSecret {
    reference: Option<SecretRef>,
    value: Option<SecretString>,
}

impl CachedSecret {
    pub fn new(reference: Option<SecretRef>) -> Self {
        Self {
            reference,
            value: None,
        }
    }

    /// The secret, or `None` when none is configured. `backend` names the backend in the
    /// error, e.g. `postgres at db-1:5432`.
    pub async fn get(&mut self, backend: &str) -> Result<Option<&SecretString>, String> {
        let Some(reference) = &self.reference else {
            return Ok(None);
        };
        if self.value.is_none() {
            let value = reference
                .resolve()
                .await
                .map_err(|e| format!("{backend}: cannot get the password from {reference}: {e}"))?;
            self.value = Some(value);
        }
        Ok(self.value.as_ref())
    }

    pub fn forget(&mut self) {
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn parses_every_form_and_rejects_literals() {
        assert_eq!("env:PGPASS".parse(), Ok(SecretRef::Env("PGPASS".into())));
        assert_eq!(
            "file:/run/secrets/pg".parse(),
            Ok(SecretRef::File("/run/secrets/pg".into()))
        );
        assert_eq!(
            "op://Infra/pg/password".parse(),
            Ok(SecretRef::OnePassword("op://Infra/pg/password".into()))
        );
        assert!(matches!(
            "cmd:pass show pg".parse(),
            Ok(SecretRef::Command(_))
        ));
        assert!("hunter2".parse::<SecretRef>().is_err());
        assert!("op://Infra".parse::<SecretRef>().is_err());
        assert!("env:".parse::<SecretRef>().is_err());
    }

    #[test]
    fn debug_and_display_never_show_a_command() {
        let r = SecretRef::Command("echo s3cret".into());
        assert!(!format!("{r:?} {r}").contains("s3cret"));
    }

    /// The 1Password CLI cannot run here, so a stand-in script records its arguments and
    /// answers like `op read` does; a failing one answers like `op` on a missing item.
    #[tokio::test]
    async fn one_password_references_are_read_with_op_read() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let op = dir.path().join("op");
        let log = dir.path().join("argv");
        std::fs::write(
            &op,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\n\
                 if [ \"$3\" = op://Infra/pg/password ]; then printf 's3cret'; exit 0; fi\n\
                 echo '[ERROR] could not find item pg in vault Missing' >&2; exit 1\n",
                log.display()
            ),
        )
        .expect("write op");
        std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let r: SecretRef = "op://Infra/pg/password".parse().expect("reference");
        let got = r
            .resolve_with_op(op.as_os_str())
            .await
            .expect("op read works");
        assert_eq!(got.expose_secret(), "s3cret");
        let argv = std::fs::read_to_string(&log).expect("argv recorded");
        assert_eq!(argv, "read\n--no-newline\nop://Infra/pg/password\n");
        let missing: SecretRef = "op://Missing/pg/password".parse().expect("reference");
        let err = missing
            .resolve_with_op(op.as_os_str())
            .await
            .expect_err("missing item");
        assert!(
            err.contains("op read failed") && err.contains("could not find item"),
            "{err}"
        );
        let absent = r
            .resolve_with_op(dir.path().join("no-op").as_os_str())
            .await
            .expect_err("no op");
        assert!(absent.contains("cannot run op read"), "{absent}");
    }

    /// Fetched once and kept; fetched again only after `forget` (a rotated password).
    #[tokio::test]
    async fn cached_secret_fetches_once_until_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "old").expect("write");
        let mut cached = CachedSecret::new(Some(SecretRef::File(path.clone())));
        let first = cached
            .get("postgres at db:5432")
            .await
            .expect("get")
            .map(|s| s.expose_secret().to_string());
        assert_eq!(first.as_deref(), Some("old"));
        std::fs::write(&path, "new").expect("rotate");
        let kept = cached
            .get("postgres at db:5432")
            .await
            .expect("get")
            .map(|s| s.expose_secret().to_string());
        assert_eq!(
            kept.as_deref(),
            Some("old"),
            "no re-read while the value works"
        );
        cached.forget();
        let fresh = cached
            .get("postgres at db:5432")
            .await
            .expect("get")
            .map(|s| s.expose_secret().to_string());
        assert_eq!(fresh.as_deref(), Some("new"));
        assert!(
            CachedSecret::new(None)
                .get("x")
                .await
                .expect("no secret")
                .is_none()
        );
        let mut missing =
            CachedSecret::new(Some(SecretRef::Env("MASTOP_TEST_SURELY_UNSET_2".into())));
        let err = missing.get("redis at r:6379").await.expect_err("unset env");
        assert!(
            err.starts_with(
                "redis at r:6379: cannot get the password from env:MASTOP_TEST_SURELY_UNSET_2"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn resolves_file_and_command_and_trims_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").expect("write");
        let got = SecretRef::File(path).resolve().await.expect("file secret");
        assert_eq!(got.expose_secret(), "s3cret");
        let got = SecretRef::Command("printf 'abc\\n'".into())
            .resolve()
            .await
            .expect("cmd secret");
        assert_eq!(got.expose_secret(), "abc");
        let err = SecretRef::Command("exit 3".into())
            .resolve()
            .await
            .expect_err("failing command");
        assert!(err.contains("secret command failed"), "{err}");
        let err = SecretRef::Env("MASTOP_TEST_SURELY_UNSET".into())
            .resolve()
            .await
            .expect_err("unset");
        assert!(err.contains("MASTOP_TEST_SURELY_UNSET is not set"));
    }
}
