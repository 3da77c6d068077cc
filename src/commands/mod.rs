//! What each command-line command does. `main` only parses and calls `dispatch`.

mod actions;
pub mod handoff;
mod inventory;
mod retry_all;
mod runbook;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::actions::Role;
use crate::cli::{Cli, Command, ConfigCommand, DemoArgs};
use crate::config::{self, Config};
use crate::model::{Fleet, SourceStatus};
use crate::sources::{self, SourceSpec};
use crate::tui::app::{App, DemoInfo};
use crate::tui::keymap::Keymap;
use crate::tui::theme::{Theme, no_color_requested};

/// Exit code for a usage or configuration error (`config check`, bad files).
pub const EXIT_CONFIG: u8 = 2;

pub fn dispatch(cli: Cli) -> color_eyre::Result<ExitCode> {
    let env = config::environment();
    let default_path = config::default_path();
    let loaded = match config::load(cli.global.config.as_deref(), default_path.as_deref(), &env) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let mut cfg = loaded.config.clone();
    if let Some(theme) = &cli.global.theme {
        cfg.ui.theme = theme.clone();
    }
    if let Some(keymap) = &cli.global.keymap {
        cfg.ui.keymap = keymap.clone();
    }
    match cli.command {
        Some(Command::Config(ConfigCommand::Check)) => Ok(config_check(&cfg, &loaded)),
        Some(Command::Config(ConfigCommand::Paths)) => {
            print_paths(loaded.path.as_deref());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Snapshot(_)) => {
            let fleet = runtime()?.block_on(crate::headless::poll_once(sources::build(&cfg)));
            print_json(&crate::headless::snapshot(
                &fleet,
                "live",
                SystemTime::now(),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Inventory(args)) => inventory::print(&cfg, args.json),
        Some(Command::Check) => {
            let fleet = runtime()?.block_on(crate::headless::poll_once(sources::build(&cfg)));
            let (lines, code) = crate::headless::check(&fleet);
            for line in lines {
                println!("{line}");
            }
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(3)))
        }
        Some(Command::Action(command)) => actions::action(&cfg, command, cli.global.readonly),
        Some(Command::Approve { id }) => actions::approve(&cfg, &id, cli.global.readonly),
        Some(Command::Approvals) => actions::approvals(&cfg, cli.global.readonly),
        Some(Command::Freeze { reason }) => {
            actions::freeze(&cfg, Some(reason), cli.global.readonly)
        }
        Some(Command::Unfreeze) => actions::freeze(&cfg, None, cli.global.readonly),
        Some(Command::Audit(command)) => actions::audit(&cfg, command, cli.global.readonly),
        Some(Command::Handoff(command)) => handoff::handoff(&cfg, command, cli.global.readonly),
        Some(Command::Note { text }) => handoff::note(&cfg, &text, cli.global.readonly),
        Some(Command::Runbook(command)) => runbook::runbook(&cfg, command, cli.global.readonly),
        Some(Command::Demo(args)) if args.snapshot => {
            let at = SystemTime::now();
            let fleet = crate::headless::fleet_from(crate::demo::readings_at(args.at), at);
            print_json(&crate::headless::snapshot(&fleet, "demo", at))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo(args)) => {
            console(&cfg, &cli.global.log_level, Some(args), cli.global.readonly)
        }
        Some(Command::Tui) | None => {
            console(&cfg, &cli.global.log_level, None, cli.global.readonly)
        }
    }
}

pub(crate) fn runtime() -> color_eyre::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn print_json(value: &serde_json::Value) -> color_eyre::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Loads the keymap and theme the config names, with the user's overrides.
pub fn ui_files(cfg: &Config) -> Result<(Keymap, Theme), config::FileError> {
    let dir = crate::paths::config_dir();
    let user_keymap = dir
        .as_ref()
        .map(|d| d.join("keymap.toml"))
        .filter(|p| p.exists());
    let keymap = Keymap::load(&cfg.ui.keymap, user_keymap.as_deref())?;
    let themes_dir = dir.map(|d| d.join("themes"));
    let theme = Theme::load(&cfg.ui.theme, themes_dir.as_deref())?;
    Ok((keymap, theme))
}

fn config_check(cfg: &Config, loaded: &config::Loaded) -> ExitCode {
    match ui_files(cfg) {
        Ok(_) => {
            for line in config::summary(cfg, loaded.path.as_deref(), &loaded.env_overrides) {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", loaded.place_ui_error(e, cfg));
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn print_paths(config_file: Option<&std::path::Path>) {
    let show = |p: Option<PathBuf>| {
        p.map_or_else(|| "(unknown: set HOME)".into(), |p| p.display().to_string())
    };
    println!(
        "config file   {}",
        config_file.map_or_else(
            || show(config::default_path()) + " (not present)",
            |p| p.display().to_string()
        )
    );
    println!(
        "keymap        {}",
        show(crate::paths::config_dir().map(|d| d.join("keymap.toml")))
    );
    println!(
        "themes        {}",
        show(crate::paths::config_dir().map(|d| d.join("themes")))
    );
    println!(
        "log file      {}",
        show(crate::paths::state_dir().map(|d| d.join("mastop.log")))
    );
}

/// The role for this run: the config's, lowered by `--readonly`. The demo acts only on its
/// own simulation, so it runs as on-call unless `--readonly` asks otherwise.
pub(crate) fn effective_role(cfg: &Config, readonly: bool, demo: bool) -> Option<Role> {
    match (readonly, demo) {
        (true, _) => Some(Role::Shadow),
        (false, true) => Some(Role::Oncall),
        (false, false) => cfg.role,
    }
}

/// The guarded-action pipeline for this console: the ops store from config (shared) or a
/// local one, and the local audit file.
pub fn pipeline(cfg: &Config, session: crate::actions::Session) -> crate::actions::Pipeline {
    let audit = crate::actions::AuditLog::new(
        cfg.audit
            .file
            .clone()
            .or_else(crate::actions::AuditLog::default_path)
            .unwrap_or_else(|| PathBuf::from("mastop-audit.jsonl")),
    );
    let (store, lock_ttl, approval_ttl): (Arc<dyn crate::actions::OpsStore>, _, _) =
        match &cfg.ops_store {
            Some(ops) => (
                Arc::new(crate::actions::store::deferred::Deferred::new(ops.clone())),
                ops.lock_ttl,
                ops.approval_ttl,
            ),
            None => {
                let dir = crate::actions::store::local::LocalStore::default_dir()
                    .unwrap_or_else(|| PathBuf::from("mastop-state"));
                (
                    Arc::new(crate::actions::store::local::LocalStore::new(
                        dir,
                        audit.clone(),
                    )),
                    Duration::from_secs(120),
                    Duration::from_secs(900),
                )
            }
        };
    crate::actions::Pipeline::new(session, store, audit, lock_ttl, approval_ttl)
}

fn console(
    cfg: &Config,
    log_level: &str,
    demo: Option<DemoArgs>,
    readonly: bool,
) -> color_eyre::Result<ExitCode> {
    let demo_mode = demo.is_some();
    let (keymap, theme) = match ui_files(cfg) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let no_color = no_color_requested(std::env::var_os("NO_COLOR").as_deref());
    let theme = if no_color {
        theme.without_color()
    } else {
        theme
    };
    let _log = crate::logging::init(log_level)?;
    let now = SystemTime::now();
    let mut host_spawner = None;
    let ledger =
        demo_mode.then(|| Arc::new(Mutex::new(crate::actions::executor::DemoLedger::default())));
    let (specs, demo_info): (Vec<SourceSpec>, _) = match demo {
        Some(args) => (
            match &ledger {
                Some(ledger) if args.drill => crate::demo::drill_specs(
                    cfg.defaults.cadence,
                    Instant::now(),
                    now,
                    Arc::clone(ledger),
                ),
                _ => crate::demo::specs(cfg.defaults.cadence, Instant::now(), args.at),
            },
            Some(DemoInfo {
                timeline: crate::demo::timeline()
                    .into_iter()
                    .map(|(t, s)| (t, s.to_string()))
                    .collect(),
                started: now,
                offset: args.at,
            }),
        ),
        None => {
            let (specs, hosts) = sources::build_sharing(cfg);
            host_spawner = Some(hosts);
            (specs, None)
        }
    };
    let mut fleet = initial_fleet(&specs, cfg);
    if let Some(info) = &demo_info {
        prefill_demo_history(&mut fleet, info.offset, cfg.defaults.cadence, now);
    }
    let mut app = App::new(fleet, keymap, theme, now);
    app.no_color = no_color;
    app.themes_dir = crate::paths::config_dir().map(|d| d.join("themes"));
    app.demo = demo_info;
    app.runbooks = runbook::screen_state(cfg, demo_mode);
    let rt = runtime()?;
    let mut session =
        crate::actions::Session::current(effective_role(cfg, readonly, demo_mode), readonly);
    let discovery = inventory::startup(cfg, demo_mode, &mut app, &mut session, &rt)
        .zip(host_spawner)
        .map(|(plan, hosts)| crate::tui::run::Discovery { plan, hosts });
    app.role = session.role;
    let pipeline = pipeline(cfg, session.clone());
    app.store = pipeline.store().describe();
    let ops = Arc::new(crate::actions::runtime::Runtime::new(pipeline, cfg, ledger));
    let handoffs = handoff::desk(cfg, session, &ops);
    let cancel = CancellationToken::new();
    let result = rt.block_on(crate::tui::run::run(
        app,
        specs,
        ops,
        handoffs,
        discovery,
        cancel.clone(),
    ));
    // Sources may be stuck in a black-holed connect; never wait for them to quit.
    cancel.cancel();
    rt.shutdown_timeout(Duration::from_millis(50));
    match result {
        Ok(exit) => {
            tracing::info!(?exit, "exiting");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            crate::tui::terminal::emergency_restore();
            Err(e)
        }
    }
}

/// Gives the demo a past, so trends are drawn from the first frame instead of filling in
/// over two minutes. The simulation is a pure function of time, so the past is exact.
fn prefill_demo_history(fleet: &mut Fleet, at: Duration, cadence: Duration, now: SystemTime) {
    let cadence = cadence.max(Duration::from_millis(500));
    for k in (1..=crate::model::history::HISTORY_LEN as u32).rev() {
        let back = cadence * k;
        let Some(t) = at.checked_sub(back) else {
            continue;
        };
        for (meta, reading) in crate::demo::readings_at(t) {
            let status = crate::model::SourceStatus {
                state: crate::model::SourceState::Ok,
                last_ok: Some(now - back),
                last_attempt: Some(now - back),
                ..SourceStatus::pending(cadence)
            };
            fleet.apply(&meta.id, status, Some(reading));
        }
    }
}

/// The fleet before any poll: every configured component, pending or disabled.
pub fn initial_fleet(specs: &[SourceSpec], cfg: &Config) -> Fleet {
    let metas = specs
        .iter()
        .map(|s| (s.meta.clone(), s.first_status()))
        .collect();
    Fleet::new(metas, threshold_overrides(cfg))
}

/// Config threshold overrides with each figure's direction filled in from its kind.
pub fn threshold_overrides(cfg: &Config) -> crate::model::fleet::ThresholdOverrides {
    let mut out = crate::model::fleet::ThresholdOverrides::new();
    for (kind, figures) in &cfg.thresholds {
        let Some(specs) = sources::figure_specs(kind) else {
            continue;
        };
        for (key, t) in figures {
            if let Some(spec) = specs.iter().find(|s| s.key == key) {
                out.entry(kind.clone()).or_default().insert(
                    key.clone(),
                    crate::model::Threshold {
                        warn: t.warn,
                        crit: t.crit,
                        direction: spec.direction,
                    },
                );
            }
        }
    }
    out
}
