//! `mastop config check` run as a user runs it: every broken config is refused with exit 2,
//! each problem named by file, line, column, key and a fix, all problems of a file in one
//! run and in file order, and nothing from the file or the environment reaches the
//! terminal raw.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A home directory of its own, so nothing of the developer's config is read.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    fn mastop(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mastop"));
        cmd.args(args)
            .env_clear()
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run mastop")
    }

    fn check(&self, config: &Path) -> Output {
        self.mastop(
            &[
                "--config",
                config.to_str().expect("utf-8"),
                "config",
                "check",
            ],
            &[],
        )
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// No ESC, BEL or other control byte except the newlines that end lines.
fn assert_inert(label: &str, bytes: &[u8]) {
    let bad: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| (*b < 0x20 && *b != b'\n') || *b == 0x7f)
        .collect();
    assert!(
        bad.is_empty(),
        "{label}: control bytes {bad:?} in {:?}",
        String::from_utf8_lossy(bytes)
    );
}

fn assert_refused(label: &str, out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{label}: panic\n{err}");
    assert_eq!(out.status.code(), Some(2), "{label}: exit code\n{err}");
    assert!(
        err.ends_with('\n'),
        "{label}: message must end with a newline"
    );
    assert_inert(label, &out.stderr);
}

/// One broken config: the problem's line, column, key, and words of its hint.
struct Broken {
    text: &'static str,
    line: usize,
    column: usize,
    key: &'static str,
    hint: &'static str,
}

const fn broken(
    text: &'static str,
    line: usize,
    column: usize,
    key: &'static str,
    hint: &'static str,
) -> Broken {
    Broken {
        text,
        line,
        column,
        key,
        hint,
    }
}

const BROKEN: &[Broken] = &[
    // Issue 12: accepted before, then harmful or failing.
    broken(
        "[defaults]\ncadence = \"0s\"\n",
        2,
        11,
        "defaults.cadence",
        "\"1s\" or more",
    ),
    broken(
        "[defaults]\ndeadline = \"0s\"\n",
        2,
        12,
        "defaults.deadline",
        "1500ms",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://mon@db/x?sslmode=verify-full\"\n",
        3,
        7,
        "postgres[0].url",
        "require already verifies",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://u@h:99999/db\"\n",
        3,
        7,
        "postgres[0].url",
        "1 to 65535",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://h:abc/0\"\n",
        3,
        7,
        "redis[0].url",
        "1 to 65535",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://mon@db/x\"\ntls_ca = \"/nonexistent/ca.pem\"\n",
        4,
        10,
        "postgres[0].tls_ca",
        "PEM file",
    ),
    // Values: the same rule wherever they are written.
    broken(
        "[defaults]\ncadence = \"2 parsecs\"\n",
        2,
        11,
        "defaults.cadence",
        "durations are written",
    ),
    broken(
        "[defaults]\ncadence = \"500ms\"\n\n[[host]]\nname = \"web-1\"\naddress = \"10.0.0.1\"\n",
        2,
        11,
        "defaults.cadence",
        "on those hosts",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://r:6379/0\"\ncadence = \"10ms\"\n",
        4,
        11,
        "redis[0].cadence",
        "\"1s\" or more",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://r:6379/0\"\ndeadline = \"1h\"\n",
        4,
        12,
        "redis[0].deadline",
        "a few seconds",
    ),
    broken(
        "[[host]]\nname = \"web-1\"\naddress = \"10.0.0.1\"\ncadence = \"500ms\"\n",
        4,
        11,
        "host[0].cadence",
        "10s is typical",
    ),
    broken(
        "[handoff]\nsnapshot_deadline = \"0s\"\n",
        2,
        21,
        "handoff.snapshot_deadline",
        "1500ms",
    ),
    broken(
        "[ops_store]\nurl = \"postgres://ops@db/ops\"\nlock_ttl = \"0s\"\n",
        3,
        12,
        "ops_store.lock_ttl",
        "\"2m\"",
    ),
    // URLs, read as the connection reads them; never echoed.
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://:pw@r:6379/0\"\n",
        3,
        7,
        "redis[0].url",
        "set `password`",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://:pa/ss@host:6379/0\"\n",
        3,
        7,
        "redis[0].url",
        "give it as `password`",
    ),
    broken(
        "[[sidekiq]]\nname = \"s\"\nurl = \"rediss://r:6379/0\"\n",
        3,
        7,
        "sidekiq[0].url",
        "TLS tunnel",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://r:6379/zero\"\n",
        3,
        7,
        "redis[0].url",
        "the database a number",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"mysql://db/x\"\n",
        3,
        7,
        "postgres[0].url",
        "postgres://",
    ),
    broken(
        "[[pgbouncer]]\nname = \"b\"\nurl = \"postgres://u@h1,h2/pgbouncer\"\n",
        3,
        7,
        "pgbouncer[0].url",
        "its own entry",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://db/x?application_name=a@b\"\n",
        3,
        7,
        "postgres[0].url",
        "percent-encode",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://db/x\"\n",
        3,
        7,
        "postgres[0].url",
        "postgres://user@host",
    ),
    broken(
        "[ops_store]\nurl = \"postgres://ops:pw@db/ops\"\n",
        2,
        7,
        "ops_store.url",
        "set `password`",
    ),
    broken(
        "[[elasticsearch]]\nname = \"e\"\nurl = \"http://es:9200/?pretty\"\n",
        3,
        7,
        "elasticsearch[0].url",
        "http://",
    ),
    // Keys and types.
    broken(
        "[uii]\ntheme = \"dark\"\n",
        1,
        2,
        "uii",
        "did you mean `ui`?",
    ),
    broken(
        "[ui]\ntheme = \"dark\"\nkeymapp = \"vim\"\n",
        3,
        1,
        "ui.keymapp",
        "did you mean `keymap`?",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://r:6379\"\nenabled = \"yes\"\n",
        4,
        11,
        "redis[0].enabled",
        "type",
    ),
    broken(
        "[[postgres]]\nname = \"primary\"\n",
        1,
        1,
        "postgres[0]",
        "add `url = …`",
    ),
    broken(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://m@db/x\"\npassword = \"hunter2\"\n",
        4,
        12,
        "postgres[0].password",
        "reference it",
    ),
    broken("role = \"admin\"\n", 1, 8, "role", "use one of"),
    broken("[ui]\ntheme = dark\n", 2, 9, "ui.theme", "double quotes"),
    broken(
        "[ui]\ntheme = \"../../etc/passwd\"\n",
        2,
        9,
        "ui.theme",
        "letters, digits",
    ),
    // Names and what belongs where.
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://a:6379\"\n\n[[redis]]\nname = \"r\"\nurl = \"redis://b:6379\"\n",
        6,
        8,
        "redis[1].name",
        "unique",
    ),
    broken(
        "[[redis]]\nname = \"a b\"\nurl = \"redis://a:6379\"\n",
        2,
        8,
        "redis[0].name",
        "letters, digits",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://a:6379\"\nnamespace = \"m\"\n",
        4,
        13,
        "redis[0].namespace",
        "[[sidekiq]]",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://a:6379\"\ntls_ca = \"/etc/ssl/certs/ca-certificates.crt\"\n",
        4,
        10,
        "redis[0].tls_ca",
        "TLS tunnel",
    ),
    broken(
        "[[streaming]]\nname = \"s\"\nurl = \"http://s:4000/metrics\"\npassword = \"env:X\"\n",
        4,
        12,
        "streaming[0].password",
        "user@host",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://a:6379\"\ntags = [\"ok\", \"\\u001b[31mred\"]\n",
        4,
        15,
        "redis[0].tags[1]",
        "plain text",
    ),
    // Thresholds.
    broken(
        "[thresholds.postgress]\nconnections_used_pct = { warn = 1, crit = 2 }\n",
        1,
        1,
        "thresholds.postgress",
        "did you mean `postgres`?",
    ),
    broken(
        "[thresholds.postgres]\nconnections_used_pct = { warn = 95, crit = 80 }\n",
        2,
        24,
        "thresholds.postgres.connections_used_pct",
        "warn must be ≤ crit",
    ),
    // Hosts and SSH.
    broken(
        "[[host]]\nname = \"h\"\naddress = \"-oProxyCommand=x\"\n",
        3,
        11,
        "host[0].address",
        "DNS name or IP",
    ),
    broken(
        "[[host]]\nname = \"h\"\naddress = \"10.0.0.1\"\nunits = [\"nginx; reboot\"]\n",
        4,
        9,
        "host[0].units",
        "mastodon-sidekiq-pull.service",
    ),
    broken(
        "[[host]]\nname = \"h\"\naddress = \"10.0.0.1\"\nmetrics = \"node_exporter\"\nnode_exporter_url = \"ftp://10.0.0.1:9100/metrics\"\n",
        5,
        21,
        "host[0].node_exporter_url",
        "http",
    ),
    broken(
        "[ssh]\nknown_hosts = \"/nonexistent/known_hosts\"\n",
        2,
        15,
        "ssh.known_hosts",
        "ssh-keyscan",
    ),
    broken(
        "[ssh]\nidentity_file = \"/nonexistent/id_ed25519\"\n",
        2,
        17,
        "ssh.identity_file",
        "agent",
    ),
    broken(
        "[ssh]\nmax_concurrent = 0\n",
        2,
        18,
        "ssh.max_concurrent",
        "16",
    ),
    // Edges and services.
    broken(
        "[[edge]]\nname = \"e\"\naddress = \"192.0.2.1\"\nhostname = \"https://social.example/\"\n",
        4,
        12,
        "edge[0].hostname",
        "public name",
    ),
    broken(
        "[[edge]]\nname = \"e\"\naddress = \"192.0.2.1\"\nhostname = \"social.example\"\nobject_storage_url = \"https://files.example\"\n",
        5,
        22,
        "edge[0].object_storage_url",
        "media_path",
    ),
    // Inventory, runbooks, handoff.
    broken(
        "[inventory]\nrefresh = \"1s\"\n",
        2,
        11,
        "inventory.refresh",
        "\"1m\"",
    ),
    broken(
        "[inventory.ansible]\nroles = {}\n",
        1,
        1,
        "inventory.ansible",
        "ansible-inventory",
    ),
    broken(
        "[ssh]\ncontrol_dir = \"/nonexistent/sockets\"\n",
        2,
        15,
        "ssh.control_dir",
        "mkdir -m 700",
    ),
    broken(
        "[runbooks]\ndirs = [\"/nonexistent/runbooks\"]\n",
        2,
        9,
        "runbooks.dirs[0]",
        "create the directory",
    ),
    broken(
        "[handoff]\nzone = \"Mars/Olympus\"\n",
        2,
        8,
        "handoff.zone",
        "IANA",
    ),
    broken(
        "[[redis]]\nname = \"r\"\nurl = \"redis://a:6379\"\npassword = \"file:/nonexistent/redis-password\"\n",
        4,
        12,
        "redis[0].password",
        "chmod 600",
    ),
    // A known signature that could never match, refused at load, not at the first read.
    broken(
        "[[logs.signature]]\nname = \"s3\"\npattern = \"Aws::S3::(Errors\"\n",
        3,
        11,
        "logs.signature[0].pattern",
        "escape `(`",
    ),
    broken(
        "[[logs.signature]]\nname = \"s3\"\npattern = \"x\"\nwarn_per_min = 20.0\ncrit_per_min = 5.0\n",
        5,
        16,
        "logs.signature[0].crit_per_min",
        "at least warn_per_min",
    ),
    broken(
        "[logs]\nring_lines = 0\n",
        2,
        14,
        "logs.ring_lines",
        "between 1 and",
    ),
];

#[test]
fn each_broken_config_is_refused_with_its_place_key_and_fix() {
    assert!(BROKEN.len() >= 30, "{} cases", BROKEN.len());
    let home = Home::new();
    let mut failures = Vec::new();
    for (i, case) in BROKEN.iter().enumerate() {
        let config = home.write(&format!("case-{i}.toml"), case.text);
        let out = home.check(&config);
        let err = stderr(&out);
        assert_refused(&format!("case {i}: {}", case.text), &out);
        let place = format!(
            "{}:{}:{}: `{}`:",
            config.display(),
            case.line,
            case.column,
            case.key
        );
        let Some(at) = err.find(&place) else {
            failures.push(format!("case {i}: no `{place}` in\n{err}"));
            continue;
        };
        // The hint is the line after the problem.
        let hint = err[at..].lines().nth(1).unwrap_or("");
        if !(hint.starts_with("  hint: ") && hint.contains(case.hint)) {
            failures.push(format!(
                "case {i}: hint {:?} does not say {:?}\n{err}",
                hint, case.hint
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Today's first problem came last (the reader went section by section in alphabetical
/// order and stopped at the first): all of them now, ordered by line.
#[test]
fn every_problem_of_a_file_in_one_run_in_file_order() {
    let home = Home::new();
    let config = home.write(
        "many.toml",
        "[ui]\ntheme = 5\n\n[defaults]\ncadence = \"0s\"\n\n\
         [[redis]]\nname = \"r\"\nurl = \"redis://h:abc/0\"\ncolour = \"red\"\n\n\
         [[postgres]]\nname = \"p\"\nurl = \"postgres://u@h/db?sslmode=verify-full\"\n\
         tls_ca = \"/nonexistent/ca.pem\"\n\n[[postgres]]\nname = \"q\"\n\n\
         [handoff]\nzone = \"Nowhere/Town\"\n",
    );
    let out = home.check(&config);
    assert_refused("many", &out);
    let err = stderr(&out);
    let places: Vec<(usize, String)> = err
        .lines()
        .filter_map(|l| l.strip_prefix("error: "))
        .map(|l| {
            let rest = l
                .strip_prefix(&format!("{}:", config.display()))
                .unwrap_or_else(|| panic!("not about the file: {l}"));
            let line: usize = rest
                .split(':')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no line in {l}"));
            let key = rest.split('`').nth(1).unwrap_or("").to_string();
            (line, key)
        })
        .collect();
    assert_eq!(
        places,
        vec![
            (2, "ui.theme".to_string()),
            (5, "defaults.cadence".to_string()),
            (9, "redis[0].url".to_string()),
            (10, "redis[0].colour".to_string()),
            (14, "postgres[0].url".to_string()),
            (15, "postgres[0].tls_ca".to_string()),
            (17, "postgres[1]".to_string()),
            (21, "handoff.zone".to_string()),
        ],
        "{err}"
    );
}

#[test]
fn garbage_files_never_panic() {
    let home = Home::new();
    let samples: Vec<Vec<u8>> = vec![
        b"\x00\x01\x02".to_vec(),
        b"[[[[".to_vec(),
        b"\xff\xfe not utf-8".to_vec(),
        b"postgres = 5\nredis = \"x\"\nhost = [1, 2]\n".to_vec(),
        b"[[postgres]]\nname = 1\nurl = []\n[[postgres]]\n".to_vec(),
        b"[thresholds]\nredis = 3\n".to_vec(),
        b"ui = { theme = { nested = true } }".to_vec(),
        b"[defaults]\ncadence = \"99999999999999999999y\"\n".to_vec(),
        format!("[ui]\ntheme = \"{}\"\n", "a".repeat(1_000_000)).into_bytes(),
        "x = 1\n".repeat(20_000).into_bytes(),
    ];
    for (i, sample) in samples.iter().enumerate() {
        let path = home.path().join(format!("garbage-{i}.toml"));
        std::fs::write(&path, sample).expect("write");
        let out = home.check(&path);
        assert_refused(&format!("sample {i}"), &out);
        assert!(
            out.stderr.len() < 64 * 1024,
            "sample {i}: {} bytes of errors",
            out.stderr.len()
        );
    }
}

/// Escape sequences (here OSC 0, which retitles the terminal) in the config file, an
/// environment variable, a flag, the keymap file or a theme file reach stderr inert.
#[test]
fn escape_sequences_from_any_source_never_reach_the_terminal() {
    const OSC: &str = "\u{1b}]0;pwned\u{7}";
    let home = Home::new();
    let check = |out: Output, label: &str, expect: &str| {
        assert_refused(label, &out);
        let err = stderr(&out);
        assert!(err.contains(expect), "{label}: {expect:?} in\n{err}");
        assert!(!err.contains(OSC), "{label}: {err:?}");
    };
    // An unknown key and a theme name in the file.
    let file = home.write(
        "osc.toml",
        "[ui]\n\"\\u001b]0;pwned\\u0007colour\" = 1\ntheme = \"x\\u001b]0;pwned\\u0007y\"\n",
    );
    let out = home.check(&file);
    let err = stderr(&out);
    check(
        out,
        "config file",
        "osc.toml:2:1: `ui.colour`: unknown field `colour`",
    );
    assert!(err.contains("osc.toml:3:9: `ui.theme`"), "{err}");
    // A theme name from the environment, and a variable name with an escape in it.
    let out = home.mastop(
        &["config", "check"],
        &[("MASTOP_UI__THEME", &format!("a{OSC}b"))],
    );
    check(
        out,
        "MASTOP_UI__THEME",
        "environment variable MASTOP_UI__THEME",
    );
    let out = home.mastop(
        &["config", "check"],
        &[(&format!("MASTOP_UI__{OSC}X"), "1")],
    );
    check(out, "variable name", "environment variable MASTOP_UI__");
    // A theme name from the command line.
    let out = home.mastop(&["--theme", &format!("a{OSC}b"), "config", "check"], &[]);
    check(out, "--theme", "command-line option --theme");
    // The keymap file: a key, and an action.
    home.write(
        "config/mastop/keymap.toml",
        "[global]\n\"\\u001b]0;pwned\\u0007\" = \"quit\"\n",
    );
    let out = home.mastop(&["config", "check"], &[]);
    check(out, "keymap key", "keymap.toml:2:");
    home.write(
        "config/mastop/keymap.toml",
        "[global]\n\"q\" = \"quit\\u001b]0;pwned\\u0007\"\n",
    );
    let out = home.mastop(&["config", "check"], &[]);
    check(out, "keymap action", "keymap.toml:2:7");
    std::fs::remove_file(home.path().join("config/mastop/keymap.toml")).expect("rm");
    // A theme file: its name, and a colour.
    let theme = "config/mastop/themes/evil.toml";
    home.write(
        theme,
        "name = \"e\\u001b]0;pwned\\u0007vil\"\ninherits = \"dark\"\n",
    );
    let out = home.mastop(&["--theme", "evil", "config", "check"], &[]);
    check(out, "theme name", "evil.toml:1:8");
    home.write(
        theme,
        "name = \"evil\"\ninherits = \"dark\"\n[tokens]\nok = { fg = \"\\u001b]0;pwned\\u0007\" }\n",
    );
    let out = home.mastop(&["--theme", "evil", "config", "check"], &[]);
    check(out, "theme colour", "evil.toml:4:13");
}

/// A 5 MB theme name gave a 5 MB error: every quote of user input is capped.
#[test]
fn huge_names_give_short_errors() {
    let home = Home::new();
    let file = home.write(
        "big.toml",
        &format!("[ui]\ntheme = \"{}\"\n", "a".repeat(5 * 1024 * 1024)),
    );
    let out = home.check(&file);
    assert_refused("5 MB theme in the file", &out);
    assert!(out.stderr.len() < 1024, "{} bytes", out.stderr.len());
    // The environment and the command line take at most 128 KiB per string.
    let long = "b".repeat(100 * 1024);
    let out = home.mastop(&["config", "check"], &[("MASTOP_UI__THEME", &long)]);
    assert_refused("long theme in the environment", &out);
    assert!(out.stderr.len() < 1024, "{} bytes", out.stderr.len());
    let out = home.mastop(&["--theme", &long, "config", "check"], &[]);
    assert_refused("long theme on the command line", &out);
    assert!(out.stderr.len() < 2048, "{} bytes", out.stderr.len());
    let file = home.write(
        "key.toml",
        &format!("[ui]\n{} = 1\n", "k".repeat(1024 * 1024)),
    );
    let out = home.check(&file);
    assert_refused("1 MB unknown key", &out);
    assert!(out.stderr.len() < 2048, "{} bytes", out.stderr.len());
}

/// `config check` says what it read in every section, not only Postgres and Redis.
#[test]
fn a_valid_config_is_summarised_section_by_section() {
    let home = Home::new();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mastop.toml");
    let out = home.mastop(&["--config", example, "config", "check"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "config OK: {example}: 2 postgres, 2 redis, 0 sidekiq, 0 pgbouncer, 5 hosts, 2 edges, 1 elasticsearch, 1 streaming"
        )),
        "{stdout}"
    );
    for words in [
        "primary postgres://mastop_monitor@db-1.tailnet.example:5432/mastodon_production",
        "cache redis://sidekiq-1.tailnet.example:6380/0 every 5s",
        "cdn-fremont-1 (node_exporter)",
        "frankfurt-1 (198.51.100.20 as hachyderm.io)",
        "search https://mastop@es-1.tailnet.example:9200/ every 10s",
        "tailscale (peers tagged tag:server, tag:env-prod)",
        "zone Europe/Berlin",
        "2 overridden",
        "live           from production: this console polls the backends above itself",
    ] {
        assert!(stdout.contains(words), "{words:?} in\n{stdout}");
    }
    assert!(stdout.ends_with('\n'));
}

/// Any variable that is not UTF-8 made every command panic while reading the environment.
#[test]
fn environment_variables_that_are_not_utf8_never_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let home = Home::new();
    let run = |name: &[u8], value: &[u8]| {
        Command::new(env!("CARGO_BIN_EXE_mastop"))
            .args(["config", "check"])
            .env_clear()
            .env("HOME", home.path())
            .env(OsStr::from_bytes(name), OsStr::from_bytes(value))
            .output()
            .expect("run mastop")
    };
    let out = run(b"SOMETHING_ELSE", b"\xff\xfe");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(b"MASTOP_UI__THEME", b"dark\xff");
    assert_refused("MASTOP_UI__THEME not UTF-8", &out);
    assert!(
        stderr(&out)
            .contains("environment variable MASTOP_UI__THEME: the variable is not valid UTF-8"),
        "{}",
        stderr(&out)
    );
}
