//! What each command-line command does. `main` only parses and calls `dispatch`.

mod actions;
pub mod handoff;
mod inventory;
mod live;
mod logs;
mod retry_all;
mod runbook;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ConfigCommand};
use crate::config::{self, Config};
use crate::engine::{Demo, Engine, Options};
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
            crate::errln!("{e}");
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
    let readonly = cli.global.readonly;
    let engine = |cfg: Config, demo: Option<Demo>| Engine::new(cfg, Options { readonly, demo });
    let demo_if = |on: bool| on.then(Demo::default);
    match cli.command {
        Some(Command::Config(ConfigCommand::Check)) => Ok(config_check(&cfg, &loaded)),
        Some(Command::Config(ConfigCommand::Paths)) => {
            print_paths(loaded.path.as_deref());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Snapshot(_)) => snapshot(&engine(cfg, None), "live"),
        Some(Command::Demo(args)) if args.snapshot => snapshot(
            &engine(
                cfg,
                Some(Demo {
                    at: args.at,
                    drill: false,
                }),
            ),
            "demo",
        ),
        Some(Command::Collect) => {
            let (path, default_path, env) =
                (cli.global.config.clone(), default_path.clone(), env.clone());
            let reload = move || {
                config::load(path.as_deref(), default_path.as_deref(), &env)
                    .map(|l| l.config)
                    .map_err(|e| e.to_string())
            };
            live::collect_command(cfg, reload, &cli.global.log_level)
        }
        Some(Command::Watch) if std::io::stdout().is_terminal() => {
            console(engine(cfg, None), &cli.global.log_level, FleetFrom::Watched)
        }
        Some(Command::Watch) => live::watch_command(cfg, &cli.global.log_level),
        Some(Command::Inventory(args)) => inventory::print(&engine(cfg, None), args.json),
        Some(Command::Logs(args)) => logs::print(&engine(cfg, None), &args),
        Some(Command::Check) => {
            let engine = engine(cfg, None);
            let fleet = runtime()?.block_on(engine.poll_once());
            let (lines, code) = crate::headless::check(&fleet);
            for line in lines {
                crate::outln!("{line}");
            }
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(3)))
        }
        Some(Command::Action(command)) => {
            let demo = match &command {
                crate::cli::ActionCommand::List { demo, .. } => *demo,
                crate::cli::ActionCommand::Preview(t) => t.demo,
                crate::cli::ActionCommand::Run { target, .. } => target.demo,
            };
            actions::action(engine(cfg, demo_if(demo)), command)
        }
        Some(Command::Approve { id }) => actions::approve(engine(cfg, None), &id),
        Some(Command::Approvals) => actions::approvals(&engine(cfg, None)),
        Some(Command::Freeze { reason }) => actions::freeze(engine(cfg, None), Some(reason)),
        Some(Command::Unfreeze) => actions::freeze(engine(cfg, None), None),
        Some(Command::Audit(command)) => actions::audit(&engine(cfg, None), command),
        Some(Command::Handoff(command)) => {
            let demo = matches!(command, handoff::HandoffCommand::Write { demo: true, .. });
            handoff::handoff(engine(cfg, demo_if(demo)), command)
        }
        Some(Command::Note { text }) => handoff::note(&engine(cfg, None), &text),
        Some(Command::Runbook(command)) => {
            let demo = match &command {
                crate::cli::RunbookCommand::List { .. } => false,
                crate::cli::RunbookCommand::Show { demo, .. }
                | crate::cli::RunbookCommand::Run { demo, .. } => *demo,
            };
            runbook::runbook(engine(cfg, demo_if(demo)), command)
        }
        Some(Command::Demo(args)) => {
            let demo = Demo {
                at: args.at,
                drill: args.drill,
            };
            console(
                engine(cfg, Some(demo)),
                &cli.global.log_level,
                FleetFrom::Polled,
            )
        }
        Some(Command::Tui) | None => {
            let from = match cfg.live.from {
                config::LiveFrom::Production => FleetFrom::Polled,
                config::LiveFrom::OpsStore => FleetFrom::Watched,
            };
            console(engine(cfg, None), &cli.global.log_level, from)
        }
    }
}

/// `snapshot --json`: one poll of every source, judged like the console judges it.
fn snapshot(engine: &Engine, mode: &str) -> color_eyre::Result<ExitCode> {
    let fleet = runtime()?.block_on(engine.poll_once());
    print_json(&crate::headless::snapshot(&fleet, mode, SystemTime::now()))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn runtime() -> color_eyre::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn print_json(value: &serde_json::Value) -> color_eyre::Result<()> {
    crate::outln!("{}", serde_json::to_string_pretty(value)?);
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
                crate::outln!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::errln!("error: {}", loaded.place_ui_error(e, cfg));
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn print_paths(config_file: Option<&std::path::Path>) {
    let show = |p: Option<PathBuf>| {
        p.map_or_else(|| "(unknown: set HOME)".into(), |p| p.display().to_string())
    };
    crate::outln!(
        "config file   {}",
        config_file.map_or_else(
            || show(config::default_path()) + " (not present)",
            |p| p.display().to_string()
        )
    );
    crate::outln!(
        "keymap        {}",
        show(crate::paths::config_dir().map(|d| d.join("keymap.toml")))
    );
    crate::outln!(
        "themes        {}",
        show(crate::paths::config_dir().map(|d| d.join("themes")))
    );
    crate::outln!(
        "log file      {}",
        show(crate::paths::state_dir().map(|d| d.join("mastop.log")))
    );
}

/// Where a console's fleet comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FleetFrom {
    Polled,
    /// From the live room in the ops store.
    Watched,
}

fn console(engine: Engine, log_level: &str, from: FleetFrom) -> color_eyre::Result<ExitCode> {
    if from == FleetFrom::Watched {
        return live::watch_console(engine, log_level);
    }
    let mut engine = engine;
    let cfg = engine.config().clone();
    let (keymap, theme) = match ui_files(&cfg) {
        Ok(files) => files,
        Err(e) => {
            crate::errln!("error: {e}");
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
    let (specs, host_spawner) = engine.sources_sharing();
    let fleet = engine.fleet_for(&specs);
    let mut app = App::new(fleet, keymap, theme, now);
    app.themes = crate::tui::theme::ThemeShelf {
        dir: crate::paths::config_dir().map(|d| d.join("themes")),
        no_color,
    };
    app.demo = engine.demo().map(|demo| DemoInfo {
        timeline: crate::demo::timeline()
            .into_iter()
            .map(|(t, s)| (t, s.to_string()))
            .collect(),
        started: now,
        offset: demo.at,
    });
    app.runbooks = crate::tui::runbooks::Runbooks::new(
        engine.runbooks(),
        engine.runbook_hosts(),
        engine.demo().is_some(),
    );
    let rt = runtime()?;
    app.identity = rt.block_on(engine.identify());
    app.screens.alerts.operator = engine.session().who();
    app.screens.alerts.silence_duration = cfg.alerts.silence_duration;
    app.logs.ring_lines = cfg.logs.ring_lines;
    if let Ok(signatures) = engine.log_signatures() {
        app.logs.signatures = signatures;
    }
    app.set_inventory(engine.inventory_at_start(now));
    app.role = engine.session().role;
    let discovery = engine
        .discovery()
        .zip(host_spawner)
        .map(|(plan, hosts)| crate::tui::run::Discovery { plan, hosts });
    // With a shared store the console is in the room: its presence, everyone's actions.
    let joining = cfg
        .ops_store
        .clone()
        .filter(|_| engine.demo().is_none())
        .map(|ops| {
            app.room = Some(crate::tui::room::Room::default());
            live::joining(
                crate::live::room::Store::At(ops),
                engine.session(),
                app.identity.clone(),
                &app.view,
                false,
            )
        });
    let ops = Arc::new(engine.actions());
    app.screens.audit.store = ops.pipeline.store().describe();
    let handoffs = handoff::desk(&engine, &ops);
    let backfill = engine.backfill(&app.fleet);
    let cancel = CancellationToken::new();
    let result = rt.block_on(crate::tui::run::run(
        app,
        crate::tui::run::Instruments::Poll(specs, joining),
        ops,
        handoffs,
        discovery,
        backfill,
        engine.log_readers(),
        cancel.clone(),
    ));
    console_ended(rt, &cancel, result)
}

/// Ends a console's run: stops its tasks without waiting for them (sources may be stuck
/// in a black-holed connect) and gives the terminal back on an error.
pub(super) fn console_ended<T: std::fmt::Debug>(
    rt: tokio::runtime::Runtime,
    cancel: &CancellationToken,
    result: color_eyre::Result<T>,
) -> color_eyre::Result<ExitCode> {
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
