#!/usr/bin/env bash
# Measures what mastop's Postgres polling costs the server: starts a throwaway PostgreSQL
# with pg_stat_statements, opens 500 connections, polls, and prints the server time of
# mastop's queries per refresh (from pg_stat_statements execution and planning time).
# Needs the Debian packages `postgresql` and `postgresql-contrib` (pg_stat_statements).
set -euo pipefail
cd "$(dirname "$0")/.."
# The client's build profile does not change server time, so the quicker dev build will do.
exec cargo bench --profile dev --bench postgres "$@"
