#!/usr/bin/env bash
# Measures polling a large fleet over SSH: starts a throwaway sshd on loopback, polls 200
# host entries through it for a few cycles with the fleet-wide handshake bound, and prints
# each cycle's time, the console's RSS and the ssh master processes kept.
# Knobs: HOSTS (200), CYCLES (5), MAX_CONCURRENT (16). Needs openssh-server and -client.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench hosts "$@"
