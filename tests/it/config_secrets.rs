//! Passwords never leave through the config's URLs: not in `config check`, `check`,
//! `snapshot --json`, the log file or the audit, however they are written. The real binary
//! runs with a temp config and temp XDG dirs; every backend is a closed loopback port, so
//! every connection fails and every error path that could quote a URL runs.

use crate::pty;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn mastop(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mastop"))
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run mastop")
}

/// xorshift64*: a fixed seed makes every run generate the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A password of any bytes: URL delimiters, quotes, escape sequences, non-ASCII text and
/// bytes that are not UTF-8 at all.
fn password(rng: &mut Rng) -> Vec<u8> {
    const PLAIN: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/@:?#%&=+ \"'\\[]{}$;,.!~*()<>|^`-_";
    const TEXT: &[&str] = &["é", "日", "€", "\u{202e}", "🔑", "ß"];
    const CONTROL: &[&[u8]] = &[b"\x1b]0;t\x07", b"\x1b[31m", b"\n", b"\t", b"\x00", b"\x7f"];
    let len = 8 + rng.below(16);
    let mut out = Vec::new();
    while out.len() < len {
        match rng.below(20) {
            0..=11 => out.push(PLAIN[rng.below(PLAIN.len())]),
            12..=14 => out.extend_from_slice(TEXT[rng.below(TEXT.len())].as_bytes()),
            15..=17 => out.extend_from_slice(CONTROL[rng.below(CONTROL.len())]),
            _ => out.push(0x80 + rng.below(0x80) as u8),
        }
    }
    out
}

/// Every byte outside the URL standard's unreserved set as `%XX`.
fn percent(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
                (*b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A TOML basic string holding `text`.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How the password is written into the config.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// `scheme://user:%XX…@host`, as a URL library would write it.
    Encoded,
    /// The bytes as they are (when they are text), delimiters and all.
    Raw,
    /// A `password=` / `pass=` query parameter.
    Query,
    /// A `file:` secret reference: the config is valid and the password reaches the
    /// connection attempt.
    SecretFile,
}

const FORMS: [Form; 4] = [Form::Encoded, Form::Raw, Form::Query, Form::SecretFile];

struct Case {
    home: tempfile::TempDir,
    config: PathBuf,
    password: Vec<u8>,
    form: Form,
}

fn case(rng: &mut Rng, form: Form, text_only: bool) -> Case {
    let home = tempfile::tempdir().expect("tempdir");
    let mut pw = password(rng);
    // A secret file must hold text to be used; other cases keep any bytes.
    while text_only && std::str::from_utf8(&pw).is_err() {
        pw = password(rng);
    }
    let port = closed_port();
    let enc = percent(&pw);
    let raw = String::from_utf8(pw.clone()).ok();
    let secret = home.path().join("secret");
    std::fs::write(&secret, &pw).expect("write secret");
    let file_ref = format!("password = \"file:{}\"\n", secret.display());
    let (creds, query, password_line) = match (form, &raw) {
        (Form::Encoded, _) | (Form::Raw, None) => {
            (format!(":{enc}@"), String::new(), String::new())
        }
        (Form::Raw, Some(raw)) => (format!(":{raw}@"), String::new(), String::new()),
        (Form::Query, _) => (String::new(), format!("?password={enc}"), String::new()),
        (Form::SecretFile, _) => (String::new(), String::new(), file_ref.clone()),
    };
    let url = |scheme: &str, user: &str, path: &str| {
        let at = if creds.is_empty() && !user.is_empty() {
            "@"
        } else {
            ""
        };
        toml_string(&format!(
            "{scheme}://{user}{creds}{at}127.0.0.1:{port}{path}{query}"
        ))
    };
    let text = format!(
        "[defaults]\ncadence = \"1s\"\ndeadline = \"1s\"\n\n\
         [ops_store]\nurl = {ops}\n{password_line}\n\
         [[postgres]]\nname = \"primary\"\nurl = {pg}\n{password_line}\n\
         [[pgbouncer]]\nname = \"bouncer\"\nurl = {bouncer}\n{password_line}\n\
         [[redis]]\nname = \"main\"\nurl = {redis}\n{password_line}\n\
         [[sidekiq]]\nname = \"jobs\"\nurl = {sidekiq}\n{password_line}\n\
         [[elasticsearch]]\nname = \"search\"\nurl = {es}\n{password_line}\n",
        ops = url("postgres", "mastop", "/ops"),
        pg = url("postgres", "mastop", "/mastodon"),
        bouncer = url("postgres", "mastop", "/pgbouncer"),
        redis = url("redis", "", "/0"),
        sidekiq = url("redis", "", "/1"),
        es = url("http", "elastic", "/"),
    );
    let config = home.path().join("mastop.toml");
    std::fs::write(&config, text).expect("write config");
    Case {
        home,
        config,
        password: pw,
        form,
    }
}

/// The forms a leak could take: the bytes, their percent-encoding, what a sanitiser would
/// leave of them; any 8 consecutive bytes of those (all of it when shorter).
fn needles(pw: &[u8]) -> Vec<Vec<u8>> {
    let lossy = String::from_utf8_lossy(pw).into_owned();
    let sanitized = mastop::sanitize::sanitize(&lossy).into_owned();
    let mut out = Vec::new();
    for form in [
        pw.to_vec(),
        percent(pw).into_bytes(),
        sanitized.into_bytes(),
        lossy.into_bytes(),
    ] {
        let width = form.len().min(8);
        if width < 6 {
            continue;
        }
        for window in form.windows(width) {
            out.push(window.to_vec());
        }
    }
    out.sort();
    out.dedup();
    out
}

fn find_leak(haystack: &[u8], needles: &[Vec<u8>]) -> Option<String> {
    needles
        .iter()
        .find(|n| haystack.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|n| String::from_utf8_lossy(n).into_owned())
}

/// Every file mastop may have written under the home directory: the log, the audit, the
/// local store. The config and the secret file hold the password on purpose.
fn written_files(case: &Case) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![case.home.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path != case.config && path != case.home.path().join("secret") {
                out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out
}

fn assert_no_leak(case: &Case, label: &str, bytes: &[u8]) {
    if let Some(found) = find_leak(bytes, &needles(&case.password)) {
        panic!(
            "{label} ({:?} form) shows {found:?} of the password {:?}:\n{}\nconfig:\n{}",
            case.form,
            String::from_utf8_lossy(&case.password),
            String::from_utf8_lossy(bytes),
            std::fs::read_to_string(&case.config).unwrap_or_default()
        );
    }
}

#[test]
fn no_password_byte_sequence_leaves_through_any_command() {
    let mut rng = Rng(0x005e_ed0f_c0ff_ee11);
    let config_arg = |c: &Case| c.config.to_str().expect("utf-8").to_string();
    let mut ran_with_valid_config = 0;
    for i in 0..48 {
        let case = case(&mut rng, FORMS[i % FORMS.len()], false);
        let config = config_arg(&case);
        for args in [
            vec!["--config", &config, "config", "check"],
            vec!["--config", &config, "check"],
            vec!["--config", &config, "snapshot", "--json"],
        ] {
            let out = mastop(case.home.path(), &args);
            let label = format!("case {i}: mastop {}", args[2..].join(" "));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{label}: {stderr}");
            match case.form {
                // A password in the URL is refused at load, whatever the command.
                Form::Encoded | Form::Raw | Form::Query => {
                    assert_eq!(out.status.code(), Some(2), "{label}: {stderr}");
                }
                // The config is valid: `config check` and `snapshot` succeed, and `check`
                // reports every component (all down: its exit code says CRIT).
                Form::SecretFile => {
                    let code = out.status.code();
                    match args[2] {
                        "check" => assert!(
                            String::from_utf8_lossy(&out.stdout).contains("redis/main"),
                            "{label}: {stderr}"
                        ),
                        _ => assert_eq!(code, Some(0), "{label}: {stderr}"),
                    }
                    ran_with_valid_config += 1;
                }
            }
            assert_no_leak(&case, &format!("{label} stdout"), &out.stdout);
            assert_no_leak(&case, &format!("{label} stderr"), &out.stderr);
        }
        for (path, bytes) in written_files(&case) {
            assert_no_leak(&case, &format!("case {i}: {}", path.display()), &bytes);
        }
    }
    assert!(ran_with_valid_config >= 30, "{ran_with_valid_config}");
}

/// The console, with debug logging, against the same dead backends: the log file and the
/// audit hold no part of the password.
#[test]
fn the_console_log_and_audit_hold_no_password() {
    let mut rng = Rng(0x0000_0ddb_a115_eed1);
    for i in 0..3 {
        let case = case(&mut rng, Form::SecretFile, true);
        let text = std::fs::read_to_string(&case.config).expect("config");
        let pw = case.password.clone();
        let mut console = pty::Console::start_with(
            &["--log-level", "debug", "--config", "mastop.toml"],
            160,
            40,
            |home| {
                std::fs::write(home.join("mastop.toml"), &text).expect("config");
                std::fs::write(home.join("secret"), &pw).expect("secret");
            },
        );
        console.wait_for_text("redis/main");
        console.wait_for("every backend down", |s| s.contains("(5 crit)"));
        let home = console.home().to_path_buf();
        let log = home.join("state/mastop/mastop.log");
        console.wait_for("a log written", |_| {
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 0)
        });
        assert_no_leak(
            &case,
            &format!("console {i} screen"),
            console.contents().as_bytes(),
        );
        console.send(b"q");
        assert!(console.wait_exit());
        let logged = std::fs::read(&log).expect("log file");
        assert!(!logged.is_empty());
        assert_no_leak(&case, &format!("console {i} log"), &logged);
        // An audited command, so that the audit holds records naming the ops store.
        let config = home.join("mastop.toml");
        let oncall = format!("role = \"oncall\"\n{text}");
        std::fs::write(&config, oncall).expect("config");
        let config = config.to_str().expect("utf-8");
        let freeze = mastop(&home, &["--config", config, "freeze", "--reason", "drill"]);
        assert_no_leak(&case, &format!("freeze {i} stdout"), &freeze.stdout);
        assert_no_leak(&case, &format!("freeze {i} stderr"), &freeze.stderr);
        let audit = std::fs::read(home.join("data/mastop/audit.jsonl")).expect("an audit file");
        assert!(
            audit.ends_with(b"\n") && audit.split(|b| *b == b'\n').count() > 1,
            "the freeze left a record in the audit"
        );
        assert_no_leak(&case, &format!("console {i} audit"), &audit);
    }
}

/// The defect of issue 11: the authority was cut at the first `/`, so this URL passed
/// `config check` as password-free and `mastop check` printed the password in its error.
#[test]
fn a_slash_in_a_url_password_is_refused_and_never_printed() {
    let home = tempfile::tempdir().expect("tempdir");
    let port = closed_port();
    let config = home.path().join("mastop.toml");
    std::fs::write(
        &config,
        format!("[[redis]]\nname = \"main\"\nurl = \"redis://:pa/ss@127.0.0.1:{port}/0\"\n"),
    )
    .expect("write");
    let config = config.to_str().expect("utf-8");
    for args in [
        vec!["--config", config, "config", "check"],
        vec!["--config", config, "check"],
        vec!["--config", config, "snapshot", "--json"],
    ] {
        let out = mastop(home.path(), &args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        assert!(all.contains("`redis[0].url`"), "{args:?}: {all}");
        assert!(
            !all.contains("pa/ss") && !all.contains("ss@") && !all.contains(":pa"),
            "{args:?}: {all}"
        );
    }
}
