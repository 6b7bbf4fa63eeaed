#!/usr/bin/env bash
# Builds the starting corpora in fuzz/corpus/<target>/ from the test fixtures, the invalid-input
# cases and the real files in ../shared/formats/real/ (beside the clone, as for the tests).
# Files already in a corpus are kept: libFuzzer adds what it finds next to them.
#
# With a built `mailforensics` binary ($MAILFORENSICS, else $CARGO_TARGET_DIR/release/ or
# target/release/), the report corpus also gets slices of simulated incidents (a bounce loop,
# two auto-responders, a help desk answering a ticket system), so the detectors have rows to find
# something in from the start.
set -euo pipefail
cd "$(dirname "$0")"
root=..
fx=$root/tests/fixtures/formats
real=$root/../shared/formats/real
out=corpus

mkdir -p "$out"/{bundle,tracking,protocol,powershell,exo,report}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

put() { # put TARGET NAME < data
  cat >"$out/$1/$2"
}

# --- the logs, one per reader ------------------------------------------------------------------
for d in "$fx"/EX*/ "$root"/tests/fixtures/xss/; do
  find "$d" -type f -name 'MSGTRK*' -print0 | while IFS= read -r -d '' log; do
    put tracking "fx-$(basename "$d")-$(basename "$log")" <"$log"
  done
done
unzip -p "$fx/EX20.zip" >"$out/tracking/fx-EX20"
gz=$(find "$fx" -name 'RECV*.gz' | head -1)
gunzip -c "$gz" >"$out/protocol/fx-EX07-RECV"
cp "$fx/exports/tracking-ex.csv" "$out/powershell/fx-tracking-ex.csv"
for f in messagetrace historical-extended; do
  cp "$fx/exports/$f.csv" "$out/exo/fx-$f-utf16.csv"
  iconv -f UTF-16 -t UTF-8 "$fx/exports/$f.csv" >"$out/exo/fx-$f-utf8.csv"
done
if [ -d "$real" ]; then
  for f in "$real"/MSGTRK*; do cp "$f" "$out/tracking/real-$(basename "$f")"; done
  for f in "$real"/RECV*; do cp "$f" "$out/protocol/real-$(basename "$f")"; done
else
  echo "seed.sh: $real not found; the real files are left out" >&2
fi

# --- bundles: zips, folders zipped, single files, every invalid case ----------------------------
cp "$fx/EX20.zip" "$out/bundle/fx-EX20.zip"
(cd "$fx" && zip -qr -X "$tmp/formats.zip" EX07 EX10 EX13 EX19 exports)
cp "$tmp/formats.zip" "$out/bundle/fx-formats.zip"
for d in EX07 EX10 EX13 EX19; do
  (cd "$fx" && zip -qr -X "$tmp/$d.zip" "$d")
  cp "$tmp/$d.zip" "$out/bundle/fx-$d.zip"
done
cp "$gz" "$out/bundle/fx-RECV.gz"
for f in "$fx"/exports/*.csv; do cp "$f" "$out/bundle/fx-$(basename "$f")"; done
for d in "$root"/tests/invalid/*/; do
  for f in "$d"bundle.*; do
    [ -f "$f" ] && cp "$f" "$out/bundle/invalid-$(basename "$d")-$(basename "$f")"
  done
done
for f in "$out"/tracking/* "$out"/protocol/*; do cp "$f" "$out/bundle/log-$(basename "$f")"; done

# --- report: a selector byte, then 1 to 3 entries joined by 0xFF (see mf_fuzz::report_entries) --
# Selector: entries = 1 + sel % 3; names from sel / 3; bit 6 deflates; bit 7 gzips the first.
report() { # report NAME SELECTOR FILE...
  local name=$1 sel=$2
  shift 2
  {
    printf "\\x$(printf %02x "$sel")"
    local first=1
    for f in "$@"; do
      [ $first = 1 ] || printf '\xff'
      first=0
      cat "$f"
    done
  } >"$out/report/$name"
}
t19=$(find "$fx/EX19" -type f | head -1)
t10=$(find "$fx/EX10" -type f | head -1)
t07=$(find "$fx/EX07" -name 'MSGTRK*' | head -1)
report fx-EX19 0 "$t19"
report fx-EX19-deflated 64 "$t19"
report fx-EX07-recv-gz 135 "$out/protocol/fx-EX07-RECV" "$t07"
report fx-EX19-EX10 4 "$t19" "$t10"
report fx-recv-tracking 7 "$out/protocol/fx-EX07-RECV" "$t07"
report fx-tracking-exports 2 "$t19" "$out/exo/fx-messagetrace-utf16.csv" "$fx/exports/tracking-ex.csv"
report fx-historical 15 "$out/exo/fx-historical-extended-utf16.csv"
report fx-xss 0 "$(find "$root/tests/fixtures/xss" -type f | head -1)"
if [ -d "$real" ]; then
  report real-edge-flow 0 "$real/MSGTRK-2016-edge-mailbox-flow.log"
  report real-ms-recv 7 "$real/RECV2023011116-1.LOG" "$real/MSGTRKMS2022091915-1.LOG"
  report real-2013 4 "$real/MSGTRK2013-kinesis-test.LOG" "$real/MSGTRK-2016-edge-mailbox-flow.log"
fi

bin=${MAILFORENSICS:-}
for c in "${CARGO_TARGET_DIR:-}/release/mailforensics" "$root/target/release/mailforensics"; do
  [ -z "$bin" ] && [ -x "$c" ] && bin=$c
done
if [ -n "$bin" ]; then
  for s in incident pingpong responder; do
    "$bin" simulate --scenario "$s" --events 300 -o "$tmp/$s.zip" >/dev/null 2>&1
    mkdir -p "$tmp/$s"
    (cd "$tmp/$s" && unzip -qo "../$s.zip")
    # The busiest hour of each server, cut to 12 kB at a line end: header and loop rows.
    for srv in EX01 EX02; do
      big=$(ls -S "$tmp/$s/$srv"/TransportRoles/Logs/MessageTracking/MSGTRK2*.LOG | head -1)
      head -c 12000 "$big" | sed '$d' >"$tmp/$s-$srv.log"
    done
    report "sim-$s" 4 "$tmp/$s-EX02.log" "$tmp/$s-EX01.log"
    cp "$tmp/$s-EX01.log" "$out/tracking/sim-$s"
  done
else
  echo "seed.sh: no mailforensics binary; the simulated report seeds are left out" >&2
fi

for t in "$out"/*/; do echo "$(basename "$t"): $(ls "$t" | wc -l) files, $(du -sh "$t" | cut -f1)"; done
