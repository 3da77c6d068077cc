//! Throwaway real servers for integration tests: PostgreSQL (and streaming replicas of it)
//! and Redis from the Debian binaries, each on a free port in its own temp dir, stopped and
//! removed on drop (also when the test panics). For backends that hang: a black-hole TCP
//! listener that never answers, and a proxy that can freeze a real server's answers.
//!
//! ```ignore
//! let pg = support::Postgres::start();
//! pg.psql("CREATE ROLE mon LOGIN");
//! let redis = support::Redis::start();
//! redis.cli(&["SET", "k", "v"]);
//! ```
//!
//! Tests never touch the machine's own Postgres or Redis: every server here listens only on
//! a port picked at start, and readiness is confirmed against *our* process (its data
//! directory or pid), so a port race can never make a test talk to someone else's server.

// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

pub mod alertmanager;
mod blackhole;
pub mod certs;
pub mod console;
pub mod http;
pub mod journal;
pub mod logs;
pub mod loki_tail;
pub mod nginx;
pub mod nginx_services;
pub mod node_exporter;
pub mod observability;
pub mod pgbackrest;
pub mod pgbouncer;
mod postgres;
mod process;
pub mod prometheus;
mod proxy;
mod redis;
mod round_trips;
pub mod scripted_http;
pub mod sidekiq;
pub mod sshd;

pub use alertmanager::Alertmanager;
pub use blackhole::BlackHole;
pub use http::http_get;
pub use postgres::Options as PostgresOptions;
pub use postgres::{Postgres, SUPERUSER, find_pg_bin_dir};
pub use process::{free_port, port_is_closed, process_alive};
pub use prometheus::Prometheus;
pub use proxy::Proxy;
pub use redis::{Redis, find_redis_bin};
pub use round_trips::CountingProxy;
pub use sshd::Sshd;
