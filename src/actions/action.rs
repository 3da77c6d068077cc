//! An action is a value: what it targets, how risky it is, and the exact operations it will
//! perform. The confirmation dialog, the preview and the audit record all show these
//! operations, so what the operator approves is exactly what runs.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// One confirmation, focus on Cancel.
    Low,
    /// The operator types the target's name.
    High,
    /// Typed confirmation and a second on-call console's approval (four-eyes).
    Critical,
}

impl Risk {
    pub fn word(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

/// What an action acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The component, e.g. `postgres/primary`.
    pub component: String,
    /// The object inside it, e.g. `pid 4121` or `queue pull`; empty for the component.
    pub object: String,
    /// What the operator types to confirm a high-risk action (a host, a queue name).
    pub name: String,
    /// The object's identity when the action was chosen (e.g. a backend's start time),
    /// re-checked against live state just before execution.
    pub identity: Option<String>,
}

impl Target {
    /// The key locks and cooldowns use: the same object, whoever names it.
    pub fn lock_key(&self) -> String {
        if self.object.is_empty() {
            self.component.clone()
        } else {
            format!("{}#{}", self.component, self.object)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.object.is_empty() {
            f.write_str(&self.component)
        } else {
            write!(f, "{} {}", self.component, self.object)
        }
    }
}

/// One exact backend operation. Parameters are data, never spliced into text.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Operation {
    Sql {
        text: String,
        params: Vec<String>,
    },
    Redis {
        argv: Vec<String>,
        /// Positions in `argv` of members' data (a job's exact JSON): sent as they are,
        /// shown and recorded only as a [`fingerprint`](super::fingerprint).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        private: Vec<usize>,
    },
    Ssh {
        host: String,
        argv: Vec<String>,
    },
    Http {
        method: String,
        url: String,
    },
    /// A request to the Alertmanager the action targets, at `path` under its configured
    /// URL and with its credentials; `body` is the exact JSON sent.
    Alertmanager {
        method: String,
        path: String,
        body: Option<String>,
    },
    /// An operation on the demo's simulated fleet; `takes_ms` is how long it pretends to run.
    Simulated {
        description: String,
        takes_ms: u64,
    },
}

/// A read-only question asked of live state just before execution: the action runs only
/// if the answer is still `expect` (the same backend, the same job, the same unit).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Check {
    /// The first column of the first row, as text, must equal `expect`.
    Sql {
        text: String,
        params: Vec<String>,
        expect: String,
    },
    /// The reply, as text, must equal `expect`.
    Redis { argv: Vec<String>, expect: String },
    /// The URL answers a GET with this status (a `/health` gate). The body is not read:
    /// Mastodon's health endpoints differ in what they print.
    Http { url: String, status: u16 },
    /// Run on a configured host: it must exit 0 and, when `expect` is given, print exactly
    /// that (trimmed). `nginx -t` before a reload is the first kind.
    Ssh {
        host: String,
        argv: Vec<String>,
        expect: Option<String>,
    },
    /// The Alertmanager the action targets still holds this silence, active or pending.
    SilenceLive { id: String },
    /// Checked against the demo's simulation.
    Simulated { description: String },
}

impl Operation {
    /// A Redis command whose arguments are all mastop's own (keys, names, numbers).
    pub fn redis(argv: Vec<String>) -> Operation {
        Operation::Redis {
            argv,
            private: Vec::new(),
        }
    }

    /// The operation as shown to people and written to the audit log, with secrets masked
    /// and members' data (job payloads) replaced by their fingerprints.
    pub fn display(&self) -> String {
        match self {
            Operation::Sql { text, params } if params.is_empty() => text.clone(),
            Operation::Sql { text, params } => {
                let shown: Vec<String> = params.iter().map(|p| sql_param(p)).collect();
                format!("{text}  -- with ${{1..}} = [{}]", shown.join(", "))
            }
            Operation::Redis { argv, private } => {
                // An EVAL script is mastop's own text, not user content: the operator sees all
                // of it, verbatim between « ». Job payloads among the keys and arguments are
                // shown by their fingerprints.
                let is_eval = argv.first().is_some_and(|c| c.eq_ignore_ascii_case("EVAL"));
                argv.iter()
                    .enumerate()
                    .map(|(i, a)| {
                        if is_eval && i == 1 {
                            format!("«{a}»")
                        } else if private.contains(&i) || is_private(a) {
                            super::fingerprint::of(a)
                        } else {
                            redis_word(a)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            // After `--`, exactly the command line the host receives.
            Operation::Ssh { host, argv } => format!(
                "ssh {host} -- {}",
                crate::sources::host::command_line::command_line(argv)
            ),
            Operation::Http { method, url } => format!("{method} {}", crate::config::mask_url(url)),
            // Alertmanager's API carries labels and the operator's comment, never members'
            // content: the whole body is shown and audited as sent.
            Operation::Alertmanager { method, path, body } => match body {
                Some(body) => format!("{method} {path} {body}"),
                None => format!("{method} {path}"),
            },
            Operation::Simulated { description, .. } => format!("(simulated) {description}"),
        }
    }
}

/// Longest unmarked argument shown as it is; anything longer is data, not a name.
const LONGEST_SHOWN: usize = 200;

/// An argument nobody marked, that is members' data all the same: a JSON object (every
/// job payload is one) or a value too long to be a name or a number.
fn is_private(value: &str) -> bool {
    value.len() > LONGEST_SHOWN || super::fingerprint::looks_like_a_job(value)
}

fn sql_param(value: &str) -> String {
    if is_private(value) {
        super::fingerprint::of(value)
    } else {
        value.to_string()
    }
}

/// A Redis argument as shown: plain when it reads unambiguously, single-quoted otherwise.
/// Only for reading (Redis takes each argument as it is; no shell is involved). SSH command
/// lines use [`crate::sources::host::command_line`], the text actually sent.
fn redis_word(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/=@#%+,".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    /// Stable name, e.g. `postgres.cancel_query`, `sidekiq.retry_job`, `demo.restart_unit`.
    pub kind: String,
    /// One line for people: "Cancel the query of pid 4121".
    pub title: String,
    pub target: Target,
    pub risk: Risk,
    pub operations: Vec<Operation>,
    /// Asked of live state at execution time; `None` when the target cannot change under us.
    pub precondition: Option<Check>,
    /// Minimum time between two runs of this kind on this target, across consoles.
    #[serde(serialize_with = "ser_secs")]
    pub cooldown: std::time::Duration,
    /// How long execution may take before it is abandoned and reported as failed.
    #[serde(serialize_with = "ser_secs")]
    pub deadline: std::time::Duration,
}

fn ser_secs<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_display_exactly_with_payloads_fingerprinted() {
        let sql = Operation::Sql {
            text: "SELECT pg_cancel_backend($1)".into(),
            params: vec!["4121".into()],
        };
        assert_eq!(
            sql.display(),
            "SELECT pg_cancel_backend($1)  -- with ${1..} = [4121]"
        );
        // The payload of the report: arguments first, so any prefix would carry them.
        let payload = r#"{"args":["secret-arg@example.org"],"class":"FlakyJob","jid":"c4f32d1938b9d4f7e11b7c04","queue":"default","error_message":"secret-err","retry_count":0}"#;
        let fingerprint = crate::actions::fingerprint::of(payload);
        let redis = Operation::redis(vec!["ZREM".into(), "retry".into(), payload.into()]);
        assert_eq!(redis.display(), format!("ZREM retry {fingerprint}"));
        let script = "-- if ZREM ok SADD+LPUSH\nif redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then return 1 end return 0";
        // Marked private: fingerprinted even when it is not JSON (an unreadable member).
        let unreadable = "secret-arg@example.org";
        let eval = Operation::Redis {
            argv: vec![
                "EVAL".into(),
                script.into(),
                "1".into(),
                "retry".into(),
                payload.into(),
                "default".into(),
                unreadable.into(),
            ],
            private: vec![4, 6],
        };
        let shown = eval.display();
        assert_eq!(
            shown,
            format!(
                "EVAL «{script}» 1 retry {fingerprint} default {}",
                crate::actions::fingerprint::of(unreadable)
            )
        );
        assert!(!shown.contains("secret"), "{shown}");
        let long_param = Operation::Sql {
            text: "SELECT $1".into(),
            params: vec!["x".repeat(201)],
        };
        assert!(
            long_param
                .display()
                .contains("= [<private value, 201 bytes, sha256 "),
            "{}",
            long_param.display()
        );
        let ssh = Operation::Ssh {
            host: "web-1".into(),
            argv: vec![
                "systemctl".into(),
                "reload".into(),
                "mastodon-web.service".into(),
            ],
        };
        assert_eq!(
            ssh.display(),
            "ssh web-1 -- systemctl reload mastodon-web.service"
        );
        let http = Operation::Http {
            method: "POST".into(),
            url: "https://u:pw@es:9200/_flush".into(),
        };
        assert_eq!(http.display(), "POST https://u:***@es:9200/_flush");
        let tricky = Operation::Ssh {
            host: "h".into(),
            argv: vec!["echo".into(), "a b; rm -rf /".into(), "#x".into()],
        };
        assert_eq!(tricky.display(), "ssh h -- echo 'a b; rm -rf /' '#x'");
    }

    #[test]
    fn lock_key_names_the_object_inside_the_component() {
        let t = Target {
            component: "postgres/primary".into(),
            object: "pid 4121".into(),
            name: "4121".into(),
            identity: None,
        };
        assert_eq!(t.lock_key(), "postgres/primary#pid 4121");
        assert_eq!(t.to_string(), "postgres/primary pid 4121");
    }
}
