#!/usr/bin/env bash
# Local stand-in for Vercel Cron: calls the worker routes in a loop until Ctrl-C.
#
#   ./run-workers.sh                  # every 5 s against http://localhost:3000
#   ./run-workers.sh --interval 1     # every second
#   ./run-workers.sh --once           # one round, then exit
#   BASE_URL=http://localhost:4000 CRON_SECRET=... ./run-workers.sh
#
# Sends `Authorization: Bearer $CRON_SECRET` when CRON_SECRET is set. Cleanup runs once an hour
# (Vercel runs it daily at 02:00 UTC).
set -euo pipefail

BASE_URL="${BASE_URL:-http://localhost:3000}"
INTERVAL=5
ONCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --interval) INTERVAL="${2:?--interval needs seconds}"; shift 2 ;;
    --interval=*) INTERVAL="${1#*=}"; shift ;;
    --once) ONCE=1; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-workers.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
case "$INTERVAL" in ''|*[!0-9.]*) echo "run-workers.sh: --interval must be a number of seconds" >&2; exit 2 ;; esac

auth=()
[ -n "${CRON_SECRET:-}" ] && auth=(-H "Authorization: Bearer ${CRON_SECRET}")

stopping=0
trap 'stopping=1; echo; echo "run-workers.sh: stopping"' INT TERM

call() {
  local name="$1" out
  # A failed call (server not up yet, a 500) is reported and the loop goes on.
  if out=$(curl -sS --max-time 70 "${auth[@]}" -w ' [%{http_code}]' "$BASE_URL/api/workers/$name" 2>&1); then
    echo "$(date +%H:%M:%S) $name $out"
  else
    echo "$(date +%H:%M:%S) $name failed: $out" >&2
  fi
}

last_cleanup=0
while [ "$stopping" -eq 0 ]; do
  call ingestion
  [ "$stopping" -eq 0 ] && call vectorization
  now=$(date +%s)
  if [ "$stopping" -eq 0 ] && [ $((now - last_cleanup)) -ge 3600 ]; then
    call cleanup
    last_cleanup=$now
  fi
  [ "$ONCE" -eq 1 ] && break
  # sleep in the background so Ctrl-C interrupts the wait at once
  sleep "$INTERVAL" & wait $! 2>/dev/null || true
done
