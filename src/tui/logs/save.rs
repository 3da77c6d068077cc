//! Saving what a log view shows: the kept lines, redacted as on screen, into a new file of
//! its own (never appended to, never overwritten) readable only by the operator.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `text` to a new file in `dir` named after `stem` and `now`; the path written.
pub fn write(
    dir: &Path,
    stem: &str,
    text: &str,
    now: std::time::SystemTime,
) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot save the log: cannot create {} ({e})", dir.display()))?;
    let stamp = jiff::Timestamp::try_from(now)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| "now".into());
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    for n in 0..100 {
        let name = match n {
            0 => format!("{safe}-{stamp}.log"),
            n => format!("{safe}-{stamp}-{n}.log"),
        };
        let path = dir.join(name);
        match options.open(&path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| format!("cannot save the log to {} ({e})", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(format!(
                    "cannot save the log to {} ({e}): check the directory's permissions",
                    path.display()
                ));
            }
        }
    }
    Err(format!(
        "cannot save the log: {} already holds 100 files of this name and second",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_save_is_a_new_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        let a = write(dir.path(), "role:web/../x", "one\n", now).unwrap();
        let b = write(dir.path(), "role:web/../x", "two\n", now).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(dir.path()));
        assert!(
            a.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("role_web_.._x-")
        );
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "two\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&a).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
