//! Config loading: layering, validation, and errors that say where and how to fix.

use mastop::config::{ConfigError, FileError, load, load_str};

fn errors(text: &str) -> Vec<FileError> {
    match load_str(text, "test.toml", &[]) {
        Ok(_) => panic!("expected config errors for:\n{text}"),
        Err(ConfigError { errors }) => errors,
    }
}

fn one_error(text: &str) -> FileError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    errs.into_iter().next().expect("one error")
}

#[test]
fn the_example_config_is_valid() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/mastop.toml"))
            .expect("examples/mastop.toml exists");
    let (config, _) =
        load_str(&text, "examples/mastop.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.postgres.len(), 2);
    assert_eq!(config.redis.len(), 2);
    assert_eq!(
        config.redis[1].cadence,
        Some(std::time::Duration::from_secs(5))
    );
    let tls_exporter = config
        .hosts
        .iter()
        .find(|h| {
            h.node_exporter_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        })
        .expect("a node_exporter over TLS");
    assert!(tls_exporter.node_exporter_password.is_some());
    // The example names no file this machine lacks (`config check` reads them); the CA
    // options it shows as comments parse as written.
    let (cas, _) = load_str(
        "[[host]]\nname = \"e\"\naddress = \"e\"\nmetrics = \"node_exporter\"\n\
         node_exporter_url = \"https://e:9100/metrics\"\n\
         node_exporter_tls_ca = \"/etc/mastop/node-exporter-ca.pem\"\n\n\
         [[elasticsearch]]\nname = \"s\"\nurl = \"https://es-1:9200\"\n\
         tls_ca = \"/etc/mastop/elasticsearch-ca.pem\"\n",
        "cas.toml",
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(cas.hosts[0].node_exporter_tls_ca.is_some());
    assert!(cas.elasticsearch[0].tls_ca.is_some());
    assert_eq!(config.prometheus[0].name, "main");
    assert!(config.alertmanager[0].password.is_some());
    assert_eq!(config.alerts.routes[0].components, ["redis/sidekiq"]);
    assert_eq!(
        config.alerts.silence_duration,
        std::time::Duration::from_secs(7200)
    );
}

#[test]
fn prometheus_alertmanager_and_alerts_are_checked_like_the_other_sections() {
    let e = one_error("[[alertmanager]]\nname = \"am\"\nurl = \"redis://am:9093\"\n");
    assert_eq!(e.key.as_deref(), Some("alertmanager[0].url"));
    assert!(e.message.contains("not an http(s) URL"), "{}", e.message);
    let e = one_error(
        "[[alertmanager]]\nname = \"am\"\nurl = \"http://am:9093\"\nwrite_url = \"http://am:9093\"\n",
    );
    assert_eq!(e.key.as_deref(), Some("alertmanager[0].write_url"));
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("silences are sent to `url`"))
    );
    let e =
        one_error("[[prometheus]]\nname = \"p\"\nurl = \"http://p:9090\"\ntls_ca = \"/ca.pem\"\n");
    assert_eq!(e.key.as_deref(), Some("prometheus[0].tls_ca"));
    let e = one_error(
        "[[alerts.route]]\nmatch = { alertname = \"~(\" }\ncomponents = [\"host/db-1\"]\n",
    );
    assert_eq!(e.key.as_deref(), Some("alerts.route[0].match"));
    assert_eq!(e.position.map(|p| p.0), Some(2));
    let e = one_error("[[alerts.route]]\nmatch = { job = \"node\" }\ncomponents = [\"db-1\"]\n");
    assert!(
        e.message.contains("`db-1` is not a component"),
        "{}",
        e.message
    );
    let e = one_error("[alerts]\nsilence_duration = \"5s\"\n");
    assert_eq!(e.key.as_deref(), Some("alerts.silence_duration"));
    let e = one_error("[[host]]\nname = \"w\"\naddress = \"w\"\nmetrics = \"prometheus\"\n");
    assert_eq!(e.key.as_deref(), Some("host[0].metrics"));
    assert!(
        e.message.contains("needs a `[[prometheus]]`"),
        "{}",
        e.message
    );
    let e = one_error("[defaults]\nhost_metrics = \"prometheus\"\n");
    assert_eq!(e.key.as_deref(), Some("defaults.host_metrics"));
    let (cfg, _) = mastop::config::load_str(
        "[defaults]\nhost_metrics = \"prometheus\"\n[[prometheus]]\nname = \"p\"\nurl = \"http://p:9090\"\n[[host]]\nname = \"w\"\naddress = \"w\"\n[[host]]\nname = \"x\"\naddress = \"x\"\nmetrics = \"ssh\"\n",
        "t.toml",
        &[],
    )
    .expect("valid");
    use mastop::config::MetricsVia;
    assert_eq!(
        cfg.hosts[0].metrics_via(&cfg.defaults),
        MetricsVia::Prometheus
    );
    assert_eq!(cfg.hosts[1].metrics_via(&cfg.defaults), MetricsVia::Ssh);
    let e = one_error("[alerts]\nseverity_helth = true\n");
    assert_eq!(e.hint.as_deref(), Some("did you mean `severity_health`?"));
}

#[test]
fn an_empty_config_means_built_in_defaults() {
    let (config, env) = load_str("", "empty.toml", &[]).expect("empty config is valid");
    assert_eq!(config.ui.theme, "dark");
    assert_eq!(config.ui.keymap, "default");
    assert_eq!(config.defaults.cadence, std::time::Duration::from_secs(2));
    assert!(env.is_empty());
}

#[test]
fn unknown_key_names_place_key_and_closest_spelling() {
    let e = one_error("[ui]\ntheme = \"dark\"\nkeymapp = \"vim\"\n");
    assert_eq!(e.position, Some((3, 1)));
    assert_eq!(e.key.as_deref(), Some("ui.keymapp"));
    assert!(
        e.message.contains("unknown field `keymapp`"),
        "{}",
        e.message
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `keymap`?"));
}

#[test]
fn wrong_type_points_at_the_value() {
    let e = one_error("[[redis]]\nname = \"main\"\nurl = \"redis://r:6379\"\nenabled = \"yes\"\n");
    assert_eq!(e.position, Some((4, 11)));
    assert_eq!(e.key.as_deref(), Some("redis[0].enabled"));
    assert!(e.message.contains("invalid type"), "{}", e.message);
}

#[test]
fn bad_duration_gets_a_format_hint() {
    let e = one_error("[defaults]\ncadence = \"two seconds\"\n");
    assert_eq!(e.position.map(|p| p.0), Some(2));
    assert_eq!(e.key.as_deref(), Some("defaults.cadence"));
    assert!(
        e.hint.as_deref().is_some_and(|h| h.contains("\"2s\"")),
        "{e}"
    );
}

#[test]
fn missing_field_says_what_to_add() {
    let e = one_error("[[postgres]]\nname = \"primary\"\n");
    assert!(e.message.contains("missing field `url`"), "{}", e.message);
    assert_eq!(e.hint.as_deref(), Some("add `url = …` to this table"));
}

#[test]
fn toml_syntax_error_has_a_location() {
    let e = one_error("[ui]\ntheme = \"dark\n");
    assert_eq!(e.position.map(|p| p.0), Some(2));
}

#[test]
fn literal_secrets_are_refused_with_the_accepted_forms() {
    let e = one_error(
        "[[postgres]]\nname = \"p\"\nurl = \"postgres://m@db/x\"\npassword = \"hunter2\"\n",
    );
    assert_eq!(e.key.as_deref(), Some("postgres[0].password"));
    assert!(e.message.contains("op://vault/item/field"), "{}", e.message);
    assert!(
        !e.to_string().contains("hunter2"),
        "the secret must not be echoed: {e}"
    );
}

#[test]
fn semantic_errors_are_all_reported_with_locations() {
    let text = "\
[[postgres]]
name = \"db\"
url = \"postgres://mon:pw@db:5432/x\"

[[postgres]]
name = \"db\"
url = \"mysql://db\"
cadence = \"10ms\"
";
    let errs = errors(text);
    type Place = (Option<String>, Option<(usize, usize)>);
    let summary: Vec<Place> = errs.iter().map(|e| (e.key.clone(), e.position)).collect();
    assert_eq!(
        summary,
        vec![
            (Some("postgres[0].url".into()), Some((3, 7))),
            (Some("postgres[1].name".into()), Some((6, 8))),
            (Some("postgres[1].url".into()), Some((7, 7))),
            (Some("postgres[1].cadence".into()), Some((8, 11))),
        ]
    );
    assert!(errs[0].message.contains("password"), "{}", errs[0]);
    assert!(
        !errs[0].to_string().contains("pw@"),
        "the password must be masked: {}",
        errs[0]
    );
    assert!(
        errs[2]
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("postgres://"))
    );
}

#[test]
fn threshold_for_unknown_kind_or_figure_is_an_error_with_suggestion() {
    let e = one_error("[thresholds.postgress]\nconnections_used_pct = { warn = 1, crit = 2 }\n");
    assert_eq!(e.key.as_deref(), Some("thresholds.postgress"));
    assert_eq!(e.hint.as_deref(), Some("did you mean `postgres`?"));
    let e = one_error("[thresholds.postgres]\nconections_used_pct = { warn = 1, crit = 2 }\n");
    assert_eq!(
        e.key.as_deref(),
        Some("thresholds.postgres.conections_used_pct")
    );
    assert_eq!(e.position.map(|p| p.0), Some(2));
    assert_eq!(
        e.hint.as_deref(),
        Some("did you mean `connections_used_pct`?")
    );
}

#[test]
fn threshold_order_must_match_the_figures_direction() {
    let e = one_error("[thresholds.postgres]\nconnections_used_pct = { warn = 95, crit = 80 }\n");
    assert!(e.message.contains("wrong order"), "{e}");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("warn must be ≤ crit"))
    );
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn env_overrides_win_over_the_file() {
    let text = "[ui]\ntheme = \"dark\"\n\n[[redis]]\nname = \"main\"\nurl = \"redis://a:6379\"\n";
    let vars = env(&[
        ("MASTOP_UI__THEME", "light"),
        ("MASTOP_REDIS__0__CADENCE", "5s"),
        ("MASTOP_LOG", "debug"),
        ("PATH", "/usr/bin"),
    ]);
    let (config, applied) = load_str(text, "t.toml", &vars).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.ui.theme, "light");
    assert_eq!(
        config.redis[0].cadence,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        applied,
        vec![
            "MASTOP_UI__THEME".to_string(),
            "MASTOP_REDIS__0__CADENCE".to_string()
        ]
    );
}

#[test]
fn a_bad_env_override_names_the_variable() {
    let e = match load_str("", "t.toml", &env(&[("MASTOP_UI__COLOUR", "x")])) {
        Err(ConfigError { errors }) => errors.into_iter().next().expect("one error"),
        Ok(_) => panic!("unknown key through env must fail"),
    };
    assert_eq!(e.origin, "environment variable MASTOP_UI__COLOUR");
    assert!(e.message.contains("unknown field `colour`"), "{e}");
    let e = match load_str("", "t.toml", &env(&[("MASTOP_REDIS__3__URL", "redis://x")])) {
        Err(ConfigError { errors }) => errors.into_iter().next().expect("one error"),
        Ok(_) => panic!("out-of-range index must fail"),
    };
    assert_eq!(e.origin, "environment variable MASTOP_REDIS__3__URL");
}

#[test]
fn explicit_missing_file_is_an_error_but_missing_default_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope.toml");
    let err = load(Some(&missing), None, &[]).expect_err("explicit path must exist");
    assert!(err.to_string().contains("cannot read config file"), "{err}");
    let loaded = load(None, Some(&missing), &[]).expect("absent default file means defaults");
    assert!(loaded.path.is_none());
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "\u{0}\u{1}\u{2}",
        "[[[[",
        "postgres = 5",
        "[[postgres]]\nname = 1\nurl = []\n",
        "[thresholds]\nredis = 3\n",
        "[thresholds.redis.memory_used_pct]\nwarn = \"a\"\n",
        "ui = { theme = { nested = true } }",
        &"a".repeat(100_000),
    ];
    for s in samples {
        let _ = load_str(s, "fuzz.toml", &[]);
    }
}
