#!/usr/bin/env bash
# Measures how long the live room goes without a leader when the leading `mastop collect`
# is killed or hangs with a standby running: starts a throwaway PostgreSQL (the ops store)
# and Redis (production), two collector processes, and prints the takeover and the new
# leader's first publication after each fault, against the target of one cadence plus the
# leader timeout. Knobs: ROUNDS (3), CADENCE_MS (2000), LEADER_TIMEOUT_MS (10000).
set -euo pipefail
cd "$(dirname "$0")/.."
# Takeover time is the collectors' waiting, not their speed: the dev build will do.
exec cargo bench --profile dev --bench failover "$@"
