//! Files and directories the config names, checked when it is loaded: a missing CA file or
//! SSH key is a mistake in the config, to be found by `config check`, not a connection error
//! in the middle of an incident. Secret files are checked for access only, never read.

use std::path::Path;

use super::locate::Seg;
use super::rules::Problem;
use super::secret::SecretRef;
use super::types::{Config, EndpointConfig};

/// Longest path shown in a message.
const PATH_MAX: usize = 300;

/// A CA bundle is a few kilobytes; a file this large is the wrong file.
const MAX_CA_BYTES: u64 = 4 * 1024 * 1024;

pub(super) fn check(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let kinds: [(&str, &[EndpointConfig]); 6] = [
        ("postgres", &config.postgres),
        ("redis", &config.redis),
        ("sidekiq", &config.sidekiq),
        ("pgbouncer", &config.pgbouncer),
        ("elasticsearch", &config.elasticsearch),
        ("streaming", &config.streaming),
    ];
    for (kind, list) in kinds {
        for (i, ep) in list.iter().enumerate() {
            let at = |k: &str| vec![Seg::Key(kind.into()), Seg::Index(i), Seg::Key(k.into())];
            if let Some(ca) = &ep.tls_ca {
                ca_file(at("tls_ca"), ca, &mut problems);
            }
            secret_file(at("password"), ep.password.as_ref(), &mut problems);
            secret_file(
                at("write_password"),
                ep.write_password.as_ref(),
                &mut problems,
            );
        }
    }
    for (i, edge) in config.edges.iter().enumerate() {
        if let Some(ca) = &edge.tls_ca {
            let at = vec![
                Seg::Key("edge".into()),
                Seg::Index(i),
                Seg::Key("tls_ca".into()),
            ];
            ca_file(at, ca, &mut problems);
        }
    }
    if let Some(ops) = &config.ops_store {
        let at = |k: &str| vec![Seg::Key("ops_store".into()), Seg::Key(k.into())];
        if let Some(ca) = &ops.tls_ca {
            ca_file(at("tls_ca"), ca, &mut problems);
        }
        secret_file(at("password"), ops.password.as_ref(), &mut problems);
    }
    ssh(config, &mut problems);
    // `[inventory.ansible] file` is left out on purpose: it is data a job rewrites, and a
    // discovery that cannot read it says so while the rest of the fleet is shown.
    for (i, dir) in config.runbooks.dirs.iter().enumerate() {
        if dir.as_os_str().is_empty() {
            continue;
        }
        let at = vec![
            Seg::Key("runbooks".into()),
            Seg::Key("dirs".into()),
            Seg::Index(i),
        ];
        if let Err(e) = readable_dir(dir) {
            problems.push((
                at,
                e,
                Some("create the directory, or remove it from `dirs`".into()),
            ));
        }
    }
    if let Some(file) = &config.audit.file
        && file.is_dir()
    {
        problems.push((
            vec![Seg::Key("audit".into()), Seg::Key("file".into())],
            format!("{} is a directory", shown(file)),
            Some("name a file, e.g. \"/var/log/mastop/audit.jsonl\"".into()),
        ));
    }
    problems
}

fn ssh(config: &Config, problems: &mut Vec<Problem>) {
    let at = |k: &str| vec![Seg::Key("ssh".into()), Seg::Key(k.into())];
    let ssh = &config.ssh;
    let files = [
        (
            "known_hosts",
            &ssh.known_hosts,
            "create it after checking each host's key (`ssh-keyscan HOST >> FILE`), or remove the setting to use ~/.ssh/known_hosts",
        ),
        (
            "identity_file",
            &ssh.identity_file,
            "point it at a private key readable by this user, or remove it to use the agent",
        ),
        (
            "config_file",
            &ssh.config_file,
            "point it at an ssh_config file, or remove it to use ~/.ssh/config",
        ),
    ];
    for (key, path, hint) in files {
        if let Some(path) = path
            && let Err(e) = readable_file(path)
        {
            problems.push((at(key), e, Some(hint.into())));
        }
    }
    if let Some(dir) = &ssh.control_dir
        && let Err(e) = readable_dir(dir)
    {
        problems.push((
            at("control_dir"),
            e,
            Some(
                "create it (`mkdir -m 700 DIR`), or remove the setting to use $XDG_RUNTIME_DIR"
                    .into(),
            ),
        ));
    }
}

/// A PEM CA bundle as the TLS connection will read it.
fn ca_file(at: Vec<Seg>, path: &Path, problems: &mut Vec<Problem>) {
    let hint =
        "give the PEM file of the CA that signed the server's certificate, readable by this user";
    if let Err(e) = readable_file(path) {
        problems.push((at, e, Some(hint.into())));
        return;
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_CA_BYTES) {
        problems.push((
            at,
            format!("{} is too large to be a CA bundle", shown(path)),
            Some(hint.into()),
        ));
        return;
    }
    if let Err(e) = crate::net::tls::ca_roots(path) {
        problems.push((
            at,
            crate::sanitize::sanitize_truncated(&e, 600),
            Some(hint.into()),
        ));
    }
}

fn secret_file(at: Vec<Seg>, secret: Option<&SecretRef>, problems: &mut Vec<Problem>) {
    let Some(SecretRef::File(path)) = secret else {
        return;
    };
    if let Err(e) = readable_file(path) {
        problems.push((
            at,
            format!("the secret file {e}"),
            Some("create it holding the secret, readable only by this user (chmod 600), or use another reference".into()),
        ));
    }
}

fn readable_file(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| access_error(path, &e))?;
    if meta.is_dir() {
        return Err(format!("{} is a directory, not a file", shown(path)));
    }
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", shown(path)));
    }
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| access_error(path, &e))
}

fn readable_dir(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| access_error(path, &e))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", shown(path)));
    }
    std::fs::read_dir(path)
        .map(|_| ())
        .map_err(|e| access_error(path, &e))
}

fn access_error(path: &Path, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("{} does not exist", shown(path)),
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "{} cannot be read by this user (permission denied)",
                shown(path)
            )
        }
        _ => format!("{} cannot be read: {e}", shown(path)),
    }
}

fn shown(path: &Path) -> String {
    crate::sanitize::sanitize_truncated(&path.display().to_string(), PATH_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_unreadable_and_wrong_kind_of_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.pem");
        assert!(readable_file(&missing).is_err_and(|e| e.contains("does not exist")));
        assert!(readable_file(dir.path()).is_err_and(|e| e.contains("is a directory")));
        assert!(readable_dir(&missing).is_err_and(|e| e.contains("does not exist")));
        let not_pem = dir.path().join("ca.pem");
        std::fs::write(&not_pem, "hello").expect("write");
        let mut problems = Vec::new();
        ca_file(vec![Seg::Key("tls_ca".into())], &not_pem, &mut problems);
        assert!(
            problems[0].1.contains("holds no certificate"),
            "{problems:?}"
        );
        problems.clear();
        ca_file(
            vec![Seg::Key("tls_ca".into())],
            Path::new("/dev/zero"),
            &mut problems,
        );
        assert!(problems[0].1.contains("not a regular file"), "{problems:?}");
    }
}
