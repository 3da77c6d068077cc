#!/usr/bin/env bash
# Measures what criterion cannot: time to first frame, idle CPU, resident memory, and how
# fast mastop quits while every backend is black-holed. Runs the release binary in tmux.
# Usage: scripts/measure.sh [seconds-of-idle-sampling]   (needs tmux and python3)
set -euo pipefail
cd "$(dirname "$0")/.."
idle_secs=${1:-30}
for tool in tmux python3; do
  command -v "$tool" >/dev/null || { echo "measure.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done
cargo build --release --quiet
bin=$PWD/target/release/mastop
work=$(mktemp -d)
sock="$work/tmux.sock"
hole_pid=""
cleanup() {
  tmux -S "$sock" kill-server 2>/dev/null || true
  [ -n "$hole_pid" ] && kill "$hole_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
mkdir -p "$HOME"
ticks=$(getconf CLK_TCK)

# Starts mastop ARGS in a 120x40 tmux pane; prints its pid.
start() {
  tmux -S "$sock" kill-server 2>/dev/null || true
  rm -f "$XDG_STATE_HOME/mastop/mastop.log"
  tmux -S "$sock" new-session -d -x 120 -y 40 "exec $bin $*"
  local pid=""
  for _ in $(seq 200); do
    pid=$(tmux -S "$sock" list-panes -F '#{pane_pid}' 2>/dev/null || true)
    [ -n "$pid" ] && [ -e "/proc/$pid" ] && break
    sleep 0.01
  done
  echo "$pid"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "== first frame (ms from process start, release, 5 runs)"
for i in 1 2 3 4 5; do
  pid=$(start demo)
  for _ in $(seq 300); do grep -q "first frame" "$XDG_STATE_HOME/mastop/mastop.log" 2>/dev/null && break; sleep 0.01; done
  grep -o 'first_frame_ms=[0-9.]*' "$XDG_STATE_HOME/mastop/mastop.log" | cut -d= -f2
  tmux -S "$sock" send-keys q
  sleep 0.3
done

measure_idle() {
  local label=$1; shift
  local pid; pid=$(start "$@")
  sleep 3
  local before; before=$(cpu_ticks "$pid")
  sleep "$idle_secs"
  local after; after=$(cpu_ticks "$pid")
  local rss hwm
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  python3 -c "print(f'$label: CPU {($after-$before)/$ticks/$idle_secs*100:.2f}% of one core over ${idle_secs}s; RSS {$rss/1024:.1f} MiB (peak {$hwm/1024:.1f} MiB)')"
  tmux -S "$sock" send-keys q
  sleep 0.3
}

echo "== idle cost"
printf '' > "$work/empty.toml"
measure_idle "demo (18 components polled every 2s, screen changing)" demo
measure_idle "no components (only the clock changes)" --config "$work/empty.toml"

echo "== quit with every backend black-holed (deadline 10m, so polls hang)"
python3 - "$work/port" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(128)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
hole_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.02; done
port=$(cat "$work/port")
cat > "$work/hole.toml" <<TOML
[defaults]
deadline = "10m"
[[postgres]]
name = "primary"
url = "postgres://mastop@127.0.0.1:$port/mastodon"
[[postgres]]
name = "replica"
url = "postgres://mastop@127.0.0.1:$port/mastodon"
[[redis]]
name = "sidekiq"
url = "redis://127.0.0.1:$port/0"
TOML
for i in 1 2 3; do
  pid=$(start --config "$work/hole.toml")
  sleep 2
  t0=$(date +%s%N)
  tmux -S "$sock" send-keys q
  while [ -e "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do sleep 0.001; done
  t1=$(date +%s%N)
  echo "quit took $(( (t1 - t0) / 1000000 )) ms (includes tmux delivering the key)"
done
