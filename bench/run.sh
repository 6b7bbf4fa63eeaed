#!/usr/bin/env bash
# Benchmark: generate a large bundle, then time `inspect` and `report` on the release build
# against `unzip -p bundle.zip > /dev/null` measured in the same run (the floor: just inflating
# the logs). Each command runs RUNS times; the median is reported, with peak RSS.
#
#   bash bench/run.sh                 # 2 M events, no protocol logs, 3 runs
#   EVENTS=1000000 RUNS=5 bash bench/run.sh
#
# Needs: the Rust toolchain, unzip, GNU time (/usr/bin/time) for peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${EVENTS:-2000000}"
RUNS="${RUNS:-3}"
SCENARIO="${SCENARIO:-mixed}"
PROTOCOL="${PROTOCOL:-0}"
WORK="${WORK:-${TMPDIR:-/tmp}/mailforensics-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailforensics-target}"
mkdir -p "$WORK"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/mailforensics"
BUNDLE="$WORK/bundle-$EVENTS-$SCENARIO-p$PROTOCOL.zip"
if [ ! -f "$BUNDLE" ]; then
  extra=(); [ "$PROTOCOL" = 1 ] || extra=(--no-protocol-logs)
  "$BIN" simulate --scenario "$SCENARIO" --events "$EVENTS" "${extra[@]}" -o "$BUNDLE" --truth "$BUNDLE.truth.json"
fi
ROWS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rows'])" "$BUNDLE.truth.json")
LOG_BYTES=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['log_bytes'])" "$BUNDLE.truth.json")
ZIP_BYTES=$(stat -c %s "$BUNDLE")

# One run: prints "seconds rss_kb".
measure() {
  /usr/bin/time -o "$WORK/.time" -f "%e %M" "$@" > /dev/null 2>&1
  tail -n 1 "$WORK/.time"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A SECS RSS
for name in floor inspect report; do
  : > "$WORK/$name.times"
  for _ in $(seq "$RUNS"); do
    case $name in
      floor) r=$(measure sh -c "unzip -p '$BUNDLE' > /dev/null") ;;
      inspect) r=$(measure "$BIN" inspect -q "$BUNDLE") ;;
      report) r=$(measure "$BIN" report -q "$BUNDLE" -o "$WORK/report.html" --json "$WORK/findings.json") ;;
    esac
    echo "$r" >> "$WORK/$name.times"
  done
  SECS[$name]=$(cut -d' ' -f1 "$WORK/$name.times" | median)
  RSS[$name]=$(cut -d' ' -f2 "$WORK/$name.times" | sort -n | tail -n 1)
done

python3 - "$ROWS" "$LOG_BYTES" "$ZIP_BYTES" "${SECS[floor]}" "${SECS[inspect]}" "${SECS[report]}" \
  "${RSS[inspect]}" "${RSS[report]}" "$(stat -c %s "$WORK/report.html")" "$RUNS" <<'PY'
import sys
rows, log, zipb = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
floor, insp, rep = map(float, sys.argv[4:7])
rss_i, rss_r, html, runs = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9]), sys.argv[10]
print(f"bundle: {rows:,} tracking rows, {log/1e6:,.0f} MB of logs, {zipb/1e6:,.0f} MB zipped; median of {runs} runs")
print(f"{'command':<34}{'seconds':>9}{'x floor':>9}{'rows/s':>12}{'MB/s':>8}{'peak RSS':>10}")
print(f"{'unzip -p bundle.zip > /dev/null':<34}{floor:>9.2f}{1:>9.2f}{rows/floor:>12,.0f}{log/1e6/floor:>8.0f}{'':>10}")
print(f"{'mailforensics inspect':<34}{insp:>9.2f}{insp/floor:>9.2f}{rows/insp:>12,.0f}{log/1e6/insp:>8.0f}{rss_i/1024:>8.0f}MB")
print(f"{'mailforensics report (+ --json)':<34}{rep:>9.2f}{rep/floor:>9.2f}{rows/rep:>12,.0f}{log/1e6/rep:>8.0f}{rss_r/1024:>8.0f}MB")
print(f"report.html: {html/1e6:.2f} MB")
PY
