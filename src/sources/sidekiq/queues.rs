//! The queues Mastodon's Sidekiq is meant to serve: what coverage is judged against and
//! the order queues are listed in.

/// Mastodon's queues in its own priority order (`config/sidekiq.yml`); `fasp` since 4.4.
pub const MASTODON_QUEUES: &[&str] = &[
    "default",
    "push",
    "ingress",
    "mailers",
    "pull",
    "scheduler",
    "fasp",
];
