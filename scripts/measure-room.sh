#!/usr/bin/env bash
# Measures the live room: starts a throwaway ops store PostgreSQL (with pg_stat_statements)
# and a production PostgreSQL and Redis in temp dirs, runs `mastop collect` against them
# with 50 watchers following the room for 60 s while a key is added to production every
# 1.7 s, then the collector on the demo's fleet for 60 s, and prints: the store's CPU and
# bytes per watcher per minute, change-to-screen latency (median, p99), and the
# collector's CPU and RSS. See benches/room.rs for what each figure counts.
#
# Needs the Debian packages postgresql, postgresql-contrib and redis-server.
# Knobs: WATCHERS (50), SECONDS (60), CHANGE_MS (1700), CADENCE_MS (2000), DEMO_WATCHERS (10).
# PROFILE (dev): the build profile; `PROFILE=release` gives the collector's CPU as shipped
# (the store's side does not depend on it).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --profile "${PROFILE:-dev}" --bench room "$@"
