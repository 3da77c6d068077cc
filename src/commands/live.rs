//! `mastop collect` and `mastop watch`: the two ends of the live room.
//!
//! Exit codes: 0 stopped by SIGTERM or ctrl-c; 1 the ops store cannot be reached at
//! start; 2 the config is unusable (no `[ops_store]`, a broken file).

use std::process::ExitCode;

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use super::{EXIT_CONFIG, runtime};
use crate::config::Config;
use crate::engine::{Engine, Options};
use crate::live::collector::Collector;
use crate::live::watch::{Watcher, follow};
use crate::store::PgStore;

/// Logs go to stderr, for journald; stdout stays for machine output.
fn log_to_stderr(level: &str) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .map_err(|e| format!("`{level}` is not a log level or filter: {e}"))?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init()
        .ok();
    Ok(())
}

fn ops_store_of(cfg: &Config, command: &str) -> Result<crate::config::OpsStoreConfig, ExitCode> {
    cfg.ops_store.clone().ok_or_else(|| {
        crate::errln!(
            "error: mastop {command} works through the ops store: add an [ops_store] section to the config"
        );
        ExitCode::from(EXIT_CONFIG)
    })
}

/// A watcher reads only the ops store: a config that also reaches production is a mistake
/// (a volunteer handed on-call's file), refused before anything connects.
fn refuse_production(cfg: &Config) -> Result<(), ExitCode> {
    let access = crate::config::production_access(cfg);
    if access.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = access.iter().take(5).map(String::as_str).collect();
    let more = access.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    crate::errln!(
        "error: a watching console holds no production credentials, but this config reaches production through {}{more}\n  hint: watch with a config that has only [ops_store] (and [ui]); the collector polls production",
        shown.join(", ")
    );
    Err(ExitCode::from(EXIT_CONFIG))
}

fn host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// Polls production and publishes until SIGTERM or ctrl-c. SIGHUP reloads the config with
/// `reload`; a config that no longer loads is reported and the running one kept.
pub fn collect_command(
    cfg: Config,
    reload: impl Fn() -> Result<Config, String>,
    log_level: &str,
) -> color_eyre::Result<ExitCode> {
    if let Err(e) = log_to_stderr(log_level) {
        crate::errln!("error: {e}");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let ops = match ops_store_of(&cfg, "collect") {
        Ok(ops) => ops,
        Err(code) => return Ok(code),
    };
    runtime()?.block_on(async move {
        let store = match PgStore::connect(&ops).await {
            Ok(store) => store,
            Err(e) => {
                crate::errln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let mut hangup = signal(SignalKind::hangup())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let host = host();
        let mut cfg = cfg;
        // Kept across reloads: the seat holding the lead stays, so a reload never hands the
        // room to the standby.
        let mut collector = Collector::new(&store, &host);
        loop {
            // The collector never acts: whatever the config says, it runs as shadow.
            let engine = Engine::new(
                cfg.clone(),
                Options {
                    readonly: true,
                    demo: None,
                },
            );
            tracing::info!(
                components = engine.sources().len(),
                "collecting into {}",
                crate::actions::OpsStore::describe(&store)
            );
            let cancel = CancellationToken::new();
            let (reloading, tally) = {
                let run = collector.run(&engine, &cancel);
                tokio::pin!(run);
                // The run ends only when cancelled; a finished future is never polled again.
                let (reloading, finished) = tokio::select! {
                    tally = &mut run => (false, Some(tally)),
                    _ = hangup.recv() => (true, None),
                    _ = terminate.recv() => (false, None),
                    _ = tokio::signal::ctrl_c() => (false, None),
                };
                cancel.cancel();
                match finished {
                    Some(tally) => (reloading, tally),
                    None => (reloading, run.await),
                }
            };
            tracing::info!(
                published = tally.published,
                failed_rounds = tally.failed_rounds,
                took_lead = tally.took_lead,
                lost_lead = tally.lost_lead,
                "round ended"
            );
            if !reloading {
                collector.resign().await;
                return Ok(ExitCode::SUCCESS);
            }
            match reload() {
                Ok(new) => {
                    tracing::info!("config reloaded");
                    cfg = new;
                }
                Err(e) => {
                    tracing::error!(error = %e, "config reload failed; keeping the running config")
                }
            }
        }
    })
}

/// Follows the room from the ops store, printing `check`'s lines for the whole fleet on
/// every change, until ctrl-c. Opens no connection to any production backend.
pub fn watch_command(cfg: Config, log_level: &str) -> color_eyre::Result<ExitCode> {
    if let Err(e) = log_to_stderr(log_level) {
        crate::errln!("error: {e}");
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let ops = match ops_store_of(&cfg, "watch") {
        Ok(ops) => ops,
        Err(code) => return Ok(code),
    };
    if let Err(code) = refuse_production(&cfg) {
        return Ok(code);
    }
    let engine = Engine::new(cfg, Options::default());
    runtime()?.block_on(async move {
        let store = match PgStore::connect(&ops).await {
            Ok(store) => store,
            Err(e) => {
                crate::errln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let mut watcher = Watcher::for_engine(&engine);
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let followed = follow(&store, &mut watcher, &cancel, |fleet| {
            let (lines, _) = crate::headless::check(fleet);
            for line in lines {
                crate::outln!("{line}");
            }
            crate::outln!("");
        })
        .await;
        match followed {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => {
                crate::errln!("error: {e}");
                Ok(ExitCode::FAILURE)
            }
        }
    })
}

/// The full console drawn from the live room: the fleet the collector publishes, who else
/// is watching, the action stream. No source is started and no production backend is
/// contacted; actions are refused, since a watcher holds no production credentials.
pub fn watch_console(engine: Engine, log_level: &str) -> color_eyre::Result<ExitCode> {
    // Whatever the config's role, a watching console never acts.
    let mut engine = Engine::new(
        engine.config().clone(),
        Options {
            readonly: true,
            demo: None,
        },
    );
    let cfg = engine.config().clone();
    let ops = match ops_store_of(&cfg, "watch") {
        Ok(ops) => ops,
        Err(code) => return Ok(code),
    };
    if let Err(code) = refuse_production(&cfg) {
        return Ok(code);
    }
    let (keymap, theme) = match super::ui_files(&cfg) {
        Ok(files) => files,
        Err(e) => {
            crate::errln!("error: {e}");
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let no_color = crate::tui::theme::no_color_requested(std::env::var_os("NO_COLOR").as_deref());
    let theme = if no_color {
        theme.without_color()
    } else {
        theme
    };
    let rt = runtime()?;
    // Connect before the terminal is taken: a store that cannot be reached is said plainly.
    let store = match rt.block_on(PgStore::connect(&ops)) {
        Ok(store) => std::sync::Arc::new(store),
        Err(e) => {
            crate::errln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let _log = crate::logging::init(log_level)?;
    let now = std::time::SystemTime::now();
    let fleet = crate::model::Fleet::new(Vec::new(), engine.thresholds())
        .with_alert_rules(engine.alert_rules());
    let mut app = crate::tui::app::App::new(fleet, keymap, theme, now);
    app.themes = crate::tui::theme::ThemeShelf {
        dir: crate::paths::config_dir().map(|d| d.join("themes")),
        no_color,
    };
    app.identity = rt.block_on(engine.identify());
    app.role = engine.session().role;
    app.room = Some(crate::tui::room::Room::watching());
    let mut joining = joining(
        crate::live::room::Store::Connected(store),
        engine.session(),
        app.identity.clone(),
        &app.view,
        true,
    );
    // The room names the person's role, though this console of theirs only watches.
    joining.me.role = cfg
        .role
        .unwrap_or(crate::config::Role::Shadow)
        .word()
        .into();
    let runtime = std::sync::Arc::new(engine.actions());
    app.screens.audit.store = runtime.pipeline.store().describe();
    let cancel = CancellationToken::new();
    let result = rt.block_on(crate::tui::run::run(
        app,
        crate::tui::run::Instruments::Watch(joining),
        runtime,
        None,
        None,
        None,
        engine.log_readers(),
        cancel.clone(),
    ));
    super::console_ended(rt, &cancel, result)
}

/// This console as the room will know it.
pub(super) fn joining(
    store: crate::live::room::Store,
    session: &crate::actions::Session,
    identity: Option<String>,
    view: &crate::tui::app::View,
    follow_fleet: bool,
) -> crate::live::room::Joining {
    crate::live::room::Joining {
        store,
        me: crate::store::room::Presence {
            console_id: session.console_id.clone(),
            who: identity.unwrap_or_else(|| session.operator.clone()),
            role: session.role.word().into(),
            host: host(),
            view: view.describe(),
        },
        follow_fleet,
        timing: Default::default(),
    }
}
