//! Runs argv on configured hosts over SSH: any command, on any `[[host]]`, each argument
//! passed as one argument (never a shell string), with the same strict host-key checking as
//! the metrics poll. A connection is opened for the action and closed after it.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use openssh::Session;
use tokio::sync::Semaphore;

use super::Executor;
use crate::actions::action::{Action, Check, Operation};
use crate::actions::role::WriteCapability;
use crate::config::{HostConfig, SshConfig};
use crate::sanitize::sanitize_truncated;
use crate::sources::host::ssh::{Connector, Finished, close_in_background};

/// How much of a command's output goes into the result and the audit record.
const SHOWN_OUTPUT: usize = 300;

pub struct SshExecutor {
    hosts: HashMap<String, HostConfig>,
    ssh: SshConfig,
    handshakes: Arc<Semaphore>,
    _write: WriteCapability,
}

impl SshExecutor {
    pub fn new(write: &WriteCapability, hosts: &[HostConfig], ssh: &SshConfig) -> Self {
        Self {
            hosts: hosts.iter().map(|h| (h.name.clone(), h.clone())).collect(),
            ssh: ssh.clone(),
            handshakes: Arc::new(Semaphore::new(ssh.max_concurrent.max(1))),
            _write: write.clone(),
        }
    }

    async fn open(&self, host: &str, action: &Action) -> Result<(Connector, Session), String> {
        let config = self.hosts.get(host).ok_or_else(|| {
            format!("`{host}` is not a configured host: SSH actions run only on [[host]] entries")
        })?;
        let connector = Connector::new(
            config,
            &self.ssh,
            action.deadline.mul_f64(0.5),
            Arc::clone(&self.handshakes),
        );
        let session = connector.connect().await.map_err(|e| e.message)?;
        Ok((connector, session))
    }

    async fn run_on(
        &self,
        sessions: &mut HashMap<String, (Connector, Session)>,
        host: &str,
        argv: &[String],
        action: &Action,
    ) -> Result<Finished, String> {
        if !sessions.contains_key(host) {
            let opened = self.open(host, action).await?;
            sessions.insert(host.to_string(), opened);
        }
        let (connector, session) = sessions
            .get(host)
            .ok_or_else(|| format!("ssh {host}: no connection"))?;
        connector.run(session, argv).await.map_err(|e| e.message)
    }
}

fn close_all(sessions: HashMap<String, (Connector, Session)>) {
    for (_, (_, session)) in sessions {
        close_in_background(session);
    }
}

/// A finished command in one line: exit status and the start of what it said.
fn describe(command: &str, f: &Finished) -> String {
    let status = f
        .status
        .map_or_else(|| "was killed".to_string(), |c| format!("exited {c}"));
    let said = [f.stderr.trim(), f.stdout.trim()]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(|s| format!(": {}", sanitize_truncated(s, SHOWN_OUTPUT)))
        .unwrap_or_default();
    format!("`{command}` {status}{said}")
}

impl Executor for SshExecutor {
    fn recheck<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let Some(Check::Ssh { host, argv, expect }) = &action.precondition else {
                return Ok("nothing to re-check".into());
            };
            let mut sessions = HashMap::new();
            let result = self.run_on(&mut sessions, host, argv, action).await;
            close_all(sessions);
            let finished = result?;
            let shown = Operation::Ssh {
                host: host.clone(),
                argv: argv.clone(),
            }
            .display();
            if !finished.success() {
                return Err(describe(&shown, &finished));
            }
            match expect {
                Some(expect) if finished.stdout.trim() != expect => Err(format!(
                    "the target changed: `{shown}` expected {expect}, found {}",
                    sanitize_truncated(finished.stdout.trim(), SHOWN_OUTPUT)
                )),
                Some(expect) => Ok(format!("still {expect}")),
                None => Ok(describe(&shown, &finished)),
            }
        })
    }

    fn execute<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move {
            let mut sessions = HashMap::new();
            let mut done = Vec::new();
            let mut outcome = Ok(());
            for op in &action.operations {
                let Operation::Ssh { host, argv } = op else {
                    outcome = Err(format!("the SSH executor cannot run `{}`", op.display()));
                    break;
                };
                match self.run_on(&mut sessions, host, argv, action).await {
                    Ok(f) if f.success() => done.push(describe(&op.display(), &f)),
                    Ok(f) => {
                        outcome = Err(describe(&op.display(), &f));
                        break;
                    }
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            close_all(sessions);
            match outcome {
                Ok(()) => Ok(done.join("; ")),
                Err(e) if done.is_empty() => Err(e),
                Err(e) => Err(format!("{e} (after: {})", done.join("; "))),
            }
        })
    }
}
