#!/usr/bin/env bash
# Measures what a refresh costs the PostgreSQL server, mastop's and pg_activity's side by
# side: starts a throwaway PostgreSQL with pg_stat_statements (track_planning on), opens
# 500 and then 50 client connections (idle, idle in transaction, running, one blocking
# chain), polls with mastop, runs pg_activity in a tmux pane for a while, and prints each
# tool's execution and planning time per refresh from pg_stat_statements, and the ratio.
# Fails when a mastop refresh at 500 connections costs more than 2.5 ms.
#
# Needs the Debian packages postgresql and postgresql-contrib; pg-activity and tmux for
# the comparison (installed here when run as root, otherwise pg_activity is skipped).
# Knobs: BATCHES (mastop's, 20), POLLS (mastop refreshes per batch, 10),
# PG_ACTIVITY_BATCHES (5), PG_ACTIVITY_SECONDS (per batch, 10). Each tool is measured in
# batches; the quietest and the median are printed, because on a busy machine server time
# includes waiting for a CPU. The budget is checked against mastop's quietest batch.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v pg_activity >/dev/null 2>&1 || missing+=(pg-activity)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages for the comparison: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      || echo "could not install ${missing[*]}: pg_activity will not be measured" >&2
  else
    echo "pg_activity will not be measured: install ${missing[*]}" >&2
  fi
fi

# The client's build profile does not change server time, so the quicker dev build will do.
exec cargo bench --profile dev --bench postgres "$@"
