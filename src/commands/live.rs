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
use crate::live::collector::collect;
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
            let run = collect(&engine, &store, &host, &cancel);
            tokio::pin!(run);
            let reloading = tokio::select! {
                tally = &mut run => {
                    tracing::info!(?tally, "collector stopped");
                    false
                }
                _ = hangup.recv() => true,
                _ = terminate.recv() => false,
                _ = tokio::signal::ctrl_c() => false,
            };
            cancel.cancel();
            let tally = run.await;
            tracing::info!(
                published = tally.published,
                failed_rounds = tally.failed_rounds,
                "round ended"
            );
            if !reloading {
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
