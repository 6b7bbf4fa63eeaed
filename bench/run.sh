#!/usr/bin/env bash
# Benchmark: for each bundle size, time `inspect` and `report` on the release build, and the
# Python Polars peer (bench/peer.py), against `unzip -p bundle.zip > /dev/null` measured in the
# same run on the same bundle (the floor: just inflating the logs). Each command runs RUNS times,
# round robin; the table shows the median time and the peak RSS of those runs, and how time and
# memory grow from one size to the next (the goal: doubling the events at most doubles both).
# The peer's results are checked against `inspect --json` and the report's event counts.
#
#   bash bench/run.sh                          # 1 M, 2 M and 4 M events, 3 runs each
#   SIZES="1000000 2000000" bash bench/run.sh  # pick the sizes
#   EVENTS=1000000 RUNS=5 bash bench/run.sh    # one size (EVENTS is SIZES with one size)
#   PROTOCOL=1 EVENTS=1000000 bash bench/run.sh  # with SMTP protocol logs on every connector
#   PARQUET=1 bash bench/run.sh                # also `report` on each bundle's Parquet export
#
# Knobs: SIZES (or EVENTS), RUNS (3), PROTOCOL (0), PARQUET (0), SCENARIO (mixed), SEED (1),
# PEER (all needed: which peer variants to run; `PEER=` skips the peer), WORK (scratch folder).
#
# Generated bundles are cached in bench/.cache/ (gitignored), keyed by size, scenario, protocol
# logs, seed and a hash of the generator's source: a changed generator makes new bundles. The 4 M
# bundle is about 2.6 GB of logs, 0.4 GB zipped; `rm -rf bench/.cache` frees the space.
#
# Needs: the Rust toolchain, unzip, GNU time (/usr/bin/time) for peak RSS, python3 (tables).
# The peer needs Python Polars (`pip install polars`); without it the peer rows are skipped with a
# message. Nothing here is part of CI. The machine is shared: the table prints the load average
# seen during each size's runs; rerun when it is far above 2.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${SIZES:-${EVENTS:-1000000 2000000 4000000}}"
RUNS="${RUNS:-3}"
SCENARIO="${SCENARIO:-mixed}"
PROTOCOL="${PROTOCOL:-0}"
PARQUET="${PARQUET:-0}"
SEED="${SEED:-1}"
PEER="${PEER-all needed}"
WORK="${WORK:-${TMPDIR:-/tmp}/mailforensics-bench}"
CACHE=bench/.cache
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mailforensics-target}"
mkdir -p "$WORK" "$CACHE"
# --all-targets: the same feature set as the test build, so Cargo does not rebuild polars
cargo build --release --locked --all-targets --quiet
BIN="$CARGO_TARGET_DIR/release/mailforensics"

if [ -n "$PEER" ] && ! python3 -c "import polars" 2> /dev/null; then
  echo "Python Polars is not installed: skipping the peer (pip install polars to include it)" >&2
  PEER=""
fi
PEER_NOTE=""
[ -z "$PEER" ] || PEER_NOTE=", Python Polars $(python3 -c 'import polars; print(polars.__version__)')"

GEN=$(find src/simulate src/cmd/simulate.rs -type f -name '*.rs' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-8)

# One run: "seconds rss_kb user_s sys_s"; the command's stdout goes to $1.
measure() {
  local out=$1; shift
  /usr/bin/time -o "$WORK/.time" -f "%e %M %U %S" "$@" > "$out" 2> "$WORK/.stderr" || {
    echo "failed: $*" >&2; cat "$WORK/.stderr" >&2; exit 1; }
  tail -n 1 "$WORK/.time"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS="$WORK/runs.tsv"  # one line per run
: > "$RESULTS"
: > "$WORK/checks.txt"
for EVENTS in $SIZES; do
  key="$EVENTS-$SCENARIO-p$PROTOCOL-s$SEED"
  BUNDLE="$CACHE/bundle-$key-g$GEN.zip"
  if [ ! -f "$BUNDLE" ]; then
    rm -f "$CACHE/bundle-$key-g"*  # the same bundle from an older generator
    extra=(); [ "$PROTOCOL" = 1 ] || extra=(--no-protocol-logs)
    echo "generating $BUNDLE ..." >&2
    "$BIN" simulate --scenario "$SCENARIO" --events "$EVENTS" --seed "$SEED" "${extra[@]}" \
      -o "$BUNDLE.partial" --truth "$BUNDLE.truth.json"
    mv "$BUNDLE.partial" "$BUNDLE"
  fi
  read -r ROWS LOG_BYTES < <(python3 -c "import json,sys; t=json.load(open(sys.argv[1])); print(t['rows'], t['log_bytes'])" "$BUNDLE.truth.json")
  ZIP_BYTES=$(stat -c %s "$BUNDLE")

  names=(floor inspect report)
  if [ "$PARQUET" = 1 ]; then
    # Exported afresh (the export is the binary's own): not part of the timings.
    rm -rf "$WORK/export"
    "$BIN" export -q "$BUNDLE" -o "$WORK/export" > /dev/null
    names+=(parquet)
  fi
  for v in $PEER; do names+=("peer-$v"); done
  # Round robin (floor, inspect, report, peer, floor, ...): a burst of load from others on this
  # shared machine then hits every command of a size alike instead of all runs of one command.
  for run in $(seq "$RUNS"); do
    for name in "${names[@]}"; do
      echo "$EVENTS events: run $run/$RUNS: $name" >&2
      load=$(cut -d' ' -f1 /proc/loadavg)
      case $name in
        floor) r=$(measure /dev/null unzip -p "$BUNDLE") ;;
        inspect) r=$(measure "$WORK/inspect.json" "$BIN" inspect -q --json "$BUNDLE") ;;
        report) r=$(measure /dev/null "$BIN" report -q "$BUNDLE" -o "$WORK/report.html" --json "$WORK/findings.json") ;;
        parquet) r=$(measure /dev/null "$BIN" report -q "$WORK/export" -o "$WORK/report-parquet.html" --json "$WORK/findings-parquet.json") ;;
        peer-*) r=$(measure "$WORK/$name.json" python3 bench/peer.py "$BUNDLE" --columns "${name#peer-}") ;;
      esac
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$EVENTS" "$ROWS" "$LOG_BYTES" "$ZIP_BYTES" "$name" \
        "${r// /$'\t'}" "$load" "$(stat -c %s "$WORK/report.html" 2> /dev/null || echo 0)" >> "$RESULTS"
    done
  done
  if [ "$PARQUET" = 1 ]; then
    { echo "report on the Parquet export of the $EVENTS-event bundle:"
      python3 - "$WORK/findings.json" "$WORK/findings-parquet.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for f in (a, b):
    f["bundle"]["bundle"] = None
    # evidence shows addresses lower-cased from an export (the frames store them so)
    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("sender", "recipients") and isinstance(x, str):
                    v[k] = x.lower()
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
    walk(f)
print("  the same findings as the zip" if a == b else "  DIFFERENT findings from the zip")
PY
    } >> "$WORK/checks.txt"
  fi
  for v in $PEER; do
    { echo "peer-$v on the $EVENTS-event bundle ($ROWS rows):"
      python3 bench/peer.py --compare "$WORK/peer-$v.json" "$WORK/inspect.json" "$WORK/findings.json" || true
    } >> "$WORK/checks.txt"
  done
done

LOAD="load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after ($(nproc) cores)"
python3 - "$RESULTS" "$RUNS" "$SCENARIO" "$PROTOCOL" "$SEED" "$PEER_NOTE" "$LOAD" <<'PY'
import statistics
import sys
from collections import OrderedDict
path, runs, scenario, protocol, seed, peer_note, load = sys.argv[1:8]
label = {
    "floor": "unzip -p bundle.zip > /dev/null",
    "inspect": "mailforensics inspect",
    "report": "mailforensics report (+ --json)",
    "parquet": "report on its Parquet export",
    "peer-all": "Python Polars peer, all columns",
    "peer-needed": "Python Polars peer, 2 columns",
}
sizes = OrderedDict()
for line in open(path):
    events, rows, log, zipb, name, secs, rss, user, sys_, load1, html = line.rstrip("\n").split("\t")
    s = sizes.setdefault(events, {"rows": int(rows), "log": int(log), "zip": int(zipb), "runs": OrderedDict(), "load": []})
    s["runs"].setdefault(name, []).append((float(secs), int(rss), float(user) + float(sys_)))
    s["load"].append(float(load1))
    if name == "report":
        s["html"] = int(html)
for s in sizes.values():  # median seconds, peak RSS over the runs, median CPU seconds
    s["cmd"] = {n: (statistics.median(r[0] for r in rs), max(r[1] for r in rs), statistics.median(r[2] for r in rs))
                for n, rs in s["runs"].items()}
logs = "with SMTP protocol logs" if protocol == "1" else "tracking logs only"
print(f"scenario {scenario}, {logs}, seed {seed}; median of {runs} runs, peak RSS = max of the runs{peer_note}")
print(load)
print("x floor: seconds / seconds of unzip -p on the same bundle in this run; cpu s: user + system seconds "
      "(median; steadier than seconds when others load the machine);\n"
      "x prev: this size's seconds, cpu s and peak RSS / the previous size's")
hdr = (f"{'events':>10} {'MB logs':>8}  {'command':<33}{'seconds':>8}{'x floor':>8}{'cpu s':>8}"
       f"{'peak RSS':>10}{'events/s':>11}{'time x prev':>12}{'cpu x prev':>11}{'RSS x prev':>11}")
print(hdr)
prev = None
for events, s in sizes.items():
    floor = s["cmd"]["floor"][0]
    if prev:
        print(f"{'':>10} {'':>8}  events x {s['rows'] / prev['rows']:.2f}, MB of logs x {s['log'] / prev['log']:.2f} from the previous size")
    first = True
    for name, (secs, rss, cpu) in s["cmd"].items():
        lead = f"{s['rows']:>10,} {s['log'] / 1e6:>8,.0f}" if first else f"{'':>10} {'':>8}"
        first = False
        if prev and name in prev["cmd"]:
            p_secs, p_rss, p_cpu = prev["cmd"][name]
            growth = f"{secs / p_secs:>12.2f}{cpu / p_cpu:>11.2f}{rss / p_rss:>11.2f}"
        else:
            growth = f"{'-':>12}{'-':>11}{'-':>11}"
        print(f"{lead}  {label.get(name, name):<33}{secs:>8.2f}{secs / floor:>8.2f}{cpu:>8.2f}"
              f"{rss / 1024:>8,.0f}MB{s['rows'] / secs:>11,.0f}{growth}")
    print(f"{'':>10} {'':>8}  ({s['zip'] / 1e6:,.0f} MB zipped; report.html {s.get('html', 0) / 1e6:.2f} MB; "
          f"1-min load average {min(s['load']):.1f} to {max(s['load']):.1f} during the runs, "
          "about 1 to 2 from this benchmark alone)")
    prev = s
PY
if [ -s "$WORK/checks.txt" ]; then
  echo "checks: the peer against mailforensics inspect --json and the report's event counts; the Parquet export's findings against the zip's:"
  cat "$WORK/checks.txt"
fi
