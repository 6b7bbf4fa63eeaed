#!/usr/bin/env python3
"""The Python Polars peer of `mailforensics inspect`: what an analyst writes in ten minutes.

Reads every message-tracking log in a bundle zip with Polars' CSV reader (columns from each
file's own `#Fields:` line, all read as text), concatenates them into one frame and computes the
inventory `mailforensics inspect --json` reports (total rows, rows, size, SHA-256 and time range
per file, the bundle's SHA-256, first/last timestamp, servers: the digests are what makes an
inventory evidence, so the analyst's script takes them too) plus the event counts per event id that the report's
"Events by event id" table shows. Prints one small JSON object.

    python3 bench/peer.py BUNDLE.zip                 # the inventory as JSON on stdout
    python3 bench/peer.py BUNDLE.zip --columns needed  # parse only the columns it uses
    python3 bench/peer.py --compare PEER.json INSPECT.json [FINDINGS.json]

`--compare` checks a peer result against `mailforensics inspect --json` (rows in all, per file,
time range, servers) and, when given, the report's `--json` findings (event counts); it prints
what is equal and what differs, and exits 1 on a difference.

Needs Python Polars (`pip install polars`). No heroics: one pass over the zip entries in order,
Polars parses each file with its own threads; no hand-made thread pools, no hand-written parser.
"""

import argparse
import hashlib
import io
import json
import sys
import time
import zipfile

TRACKING = "#Log-type: Message Tracking Log"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
NEEDED = ["date-time", "event-id"]


def header(raw: bytes):
    """Split a log into (log-type, fields, offset of the first data row), or None if no #Fields."""
    log_type, pos = None, 0
    while raw.startswith(b"#", pos) or (pos == 0 and raw.startswith(b"\xef\xbb\xbf#")):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end].decode("utf-8-sig").strip()
        pos = end
        if line.startswith("#Log-type:"):
            log_type = line
        elif line.startswith("#Fields:"):
            return log_type, line[len("#Fields:"):].strip().split(","), pos
    return None


def load(bundle: str, columns: str, digests: dict):
    """Read every message-tracking log of the bundle into one frame with `file` and `server`;
    fills `digests` with each log's (bytes, SHA-256)."""
    import polars as pl

    frames = []
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            with zf.open(info) as f:  # peek at the header only: skips protocol logs unread
                head = header(f.read(64 * 1024))
            if head is None or head[0] != TRACKING:
                continue
            raw = zf.read(info)
            digests[info.filename] = (len(raw), hashlib.sha256(raw).hexdigest())
            _, fields, start = header(raw)
            df = pl.read_csv(
                io.BytesIO(raw[start:]),
                has_header=False,
                new_columns=fields,
                # text everywhere: inferring types per file makes columns that are empty in one
                # file and numeric in the next disagree at concat time
                infer_schema=False,
                columns=[fields.index(c) for c in NEEDED] if columns == "needed" else None,
            )
            frames.append(
                df.with_columns(
                    file=pl.lit(info.filename),
                    server=pl.lit(info.filename.replace("\\", "/").split("/")[0]),
                )
            )
    if not frames:
        return None
    # files of different Exchange versions carry different columns
    df = pl.concat(frames, how="diagonal_relaxed")
    return df.with_columns(pl.col("date-time").str.to_datetime(TIME_FORMAT, time_zone="UTC"))


def iso(t):
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def inventory(bundle: str, columns: str) -> dict:
    import polars as pl

    t0 = time.perf_counter()
    with open(bundle, "rb") as f:
        bundle_sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    digests = {}
    df = load(bundle, columns, digests)
    if df is None:
        return {"bundle": bundle, "sha256": bundle_sha256, "events": 0, "files": [], "servers": [],
                "event_counts": {}}
    files = (
        df.group_by("file")
        .agg(
            rows=pl.len(),
            start=pl.col("date-time").min(),
            end=pl.col("date-time").max(),
        )
        .sort("file")
    )
    events = df.group_by("event-id").len().sort(["len", "event-id"], descending=[True, False])
    return {
        "bundle": bundle,
        "polars": pl.__version__,
        "columns": columns,
        "sha256": bundle_sha256,
        "events": df.height,
        "start": iso(df["date-time"].min()),
        "end": iso(df["date-time"].max()),
        "servers": sorted(df["server"].unique().to_list()),
        "files": [
            {"path": r["file"], "rows": r["rows"], "bytes": digests[r["file"]][0],
             "sha256": digests[r["file"]][1], "start": iso(r["start"]), "end": iso(r["end"])}
            for r in files.iter_rows(named=True)
        ],
        "event_counts": dict(events.iter_rows()),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def compare(peer_path: str, inspect_path: str, findings_path: str | None) -> bool:
    peer = json.load(open(peer_path))
    insp = json.load(open(inspect_path))
    tracking = [f for f in insp["files"] if f["kind"] == "message_tracking"]
    checks = [
        ("bundle SHA-256", peer["sha256"], insp["sha256"]),
        ("rows in all", peer["events"], insp["events"]),
        ("rows per file", {f["path"]: f["rows"] for f in peer["files"]},
         {f["path"]: f["rows"] for f in tracking}),
        ("size and SHA-256 per file", {f["path"]: (f["bytes"], f["sha256"]) for f in peer["files"]},
         {f["path"]: (f["bytes"], f["sha256"]) for f in tracking}),
        ("time range per file", {f["path"]: (f["start"], f["end"]) for f in peer["files"]},
         {f["path"]: (f["start"], f["end"]) for f in tracking}),
        # of the tracking logs: inspect's own start/end also cover protocol logs
        ("first/last timestamp", (peer["start"], peer["end"]),
         (min(f["start"] for f in tracking), max(f["end"] for f in tracking)) if tracking else (None, None)),
        ("servers", peer["servers"], sorted(insp["servers"])),
    ]
    if findings_path:
        findings = json.load(open(findings_path))
        checks.append(("event counts", peer["event_counts"],
                       {e["key"]: e["count"] for e in findings["event_counts"]}))
    equal = [name for name, got, want in checks if got == want]
    for name, got, want in checks:
        if got != want:
            print(f"  DIFFERENT from mailforensics: {name}"
                  + ("" if isinstance(got, dict) else f" (peer {got!r}, mailforensics {want!r})"))
    print(f"  equal to mailforensics: {', '.join(equal) or 'nothing'}")
    return len(equal) == len(checks)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bundle", nargs="?")
    ap.add_argument("--columns", choices=["all", "needed"], default="all",
                    help="all: load every column (the analyst's frame to dig in afterwards, "
                         "default); needed: only date-time and event-id")
    ap.add_argument("--compare", nargs="+", metavar="JSON",
                    help="PEER.json INSPECT.json [FINDINGS.json]: check a peer result")
    args = ap.parse_args()
    if args.compare:
        if len(args.compare) not in (2, 3):
            ap.error("--compare takes PEER.json INSPECT.json [FINDINGS.json]")
        sys.exit(0 if compare(*args.compare, *([None] * (3 - len(args.compare)))) else 1)
    if not args.bundle:
        ap.error("a bundle zip is required")
    try:
        import polars  # noqa: F401
    except ImportError:
        sys.exit("peer.py needs Python Polars: pip install polars")
    json.dump(inventory(args.bundle, args.columns), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
