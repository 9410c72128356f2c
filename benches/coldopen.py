#!/usr/bin/env python3
"""Cold whole-CLI ledger operations at several ledger sizes (issue 19, "Cold open").

For each size N it writes a synthetic classic-bd JSONL export (30 % of the beads in `blocks`
chains of 10, the rest epics with parent-child children and free beads; statuses spread like
`beads/src/testdata.rs`), installs a throw-away town, imports the export with `gastown bead
import` (wall time and the child's peak RSS), then times whole `gastown` processes with no
supervisor running, so each one opens the ledger cold, runs one command and flushes to git:

    show, create, update, close, ready, blocked, list (default view)

The first command after the import is timed on its own row: it persists the ready and blocked
sets (one graph build) that the import, a bulk write, left for the next open.

Usage (release build first):

    cargo build --release -p gastown
    python3 benches/coldopen.py --gastown target/release/gastown --sizes 10000,100000 --runs 7

Prints one row per (size, operation): median / min / max wall milliseconds and, for the reads,
how many output lines the command printed (what "costs its output" scales with).
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CHAIN_LEN = 10


def bead_id(i):
    # Short deterministic ids in the classic shape; 6 base-36 digits cover 2 billion beads.
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    n = i * 2654435761 % (36**7)
    s = ""
    for _ in range(7):
        s = digits[n % 36] + s
        n //= 36
    return "bn-" + s


def export(n, chain_fraction, path):
    chained = round(n * chain_fraction)
    ids = [bead_id(i) for i in range(n)]
    assert len(set(ids)) == n, "ids must be unique"
    with open(path, "w") as out:
        for i in range(n):
            created = "2026-01-01T%02d:%02d:%02dZ" % ((i // 3600) % 24, (i // 60) % 60, i % 60)
            rec = {
                "id": ids[i],
                "title": "Synthetic work item %d: tune the widget <%d>" % (i, i % 97),
                "description": "Bead %d of a synthetic ledger. The widget pipeline needs step %d reworked." % (i, i % 13),
                "status": "open",
                "priority": i % 5,
                "issue_type": "task",
                "created_at": created,
                "created_by": "bench",
                "updated_at": created,
                "labels": ["bench", "area-%d" % (i % 7)],
            }
            deps = []
            if i < chained:
                chain, pos = divmod(i, CHAIN_LEN)
                if pos > 0:
                    deps.append(("blocks", ids[i - 1]))
                if pos < chain % 4:
                    rec["status"] = "closed"
            else:
                k = i % 25
                if k == 0:
                    rec["issue_type"] = "epic"
                elif k <= 4 and i - k >= chained:
                    deps.append(("parent-child", ids[i - k]))
                rec["status"] = ["closed", "closed", "closed", "in_progress", "open", "open",
                                 "open", "open", "open", "open"][i % 10]
            if rec["status"] == "closed":
                rec["closed_at"] = created
                rec["close_reason"] = "done"
            if deps:
                rec["dependencies"] = [
                    {"issue_id": ids[i], "depends_on_id": t, "type": k,
                     "created_at": created, "created_by": "bench"}
                    for (k, t) in deps
                ]
            out.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return ids


def run(gastown, town, args, env):
    start = time.perf_counter()
    p = subprocess.run([gastown] + args, cwd=town, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit("gastown %s failed (%d): %s" % (" ".join(args), p.returncode,
                                                  p.stderr.decode(errors="replace")))
    return took, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gastown", default="target/release/gastown")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--chains", type=float, default=0.3)
    ap.add_argument("--keep", action="store_true", help="keep the towns (printed)")
    a = ap.parse_args()
    gastown = os.path.abspath(a.gastown)
    env = dict(os.environ, GASTOWN_NO_PROGRESS="1", GASTOWN_AGENT="")
    env.pop("GASTOWN_AGENT")
    print("| beads | operation | median ms | min ms | max ms | output lines |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in [int(s) for s in a.sizes.split(",")]:
        root = tempfile.mkdtemp(prefix="coldopen-%d-" % n)
        town = os.path.join(root, "town")
        jsonl = os.path.join(root, "issues.jsonl")
        ids = export(n, a.chains, jsonl)
        run(gastown, root, ["install", town, "--agent", "sim", "--prefix", "bn"], env)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        took, _ = run(gastown, town, ["bead", "import", jsonl], env)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rss_note = "%d MiB peak RSS" % (rss // 1024) if rss > before else "peak RSS not above earlier children"
        print("| %d | import (%s) | %.0f | | | |" % (n, rss_note, took * 1000))
        # Beads the writes touch: open ones outside chains, different each run.
        free = [ids[i] for i in range(round(n * a.chains), n) if i % 10 >= 4 and i % 25 > 4]
        # The first open after a bulk import persists the ready and blocked sets once (one graph
        # build, docs/ledger.md); timed on its own so the medians below are steady state.
        took, _ = run(gastown, town, ["bead", "show", free[-1]], env)
        print("| %d | first open after import (show) | %.1f | | | |" % (n, took * 1000), flush=True)
        ops = [
            ("show", lambda r: ["bead", "show", free[r]]),
            ("create", lambda r: ["bead", "create", "cold open bench %d" % r]),
            ("update", lambda r: ["bead", "update", free[100 + r], "--priority", "1"]),
            ("close", lambda r: ["bead", "close", free[200 + r], "--reason", "bench"]),
            ("ready", lambda r: ["bead", "ready"]),
            ("blocked", lambda r: ["bead", "blocked"]),
            ("list", lambda r: ["bead", "list"]),
        ]
        for name, argv in ops:
            times = []
            lines = 0
            for r in range(a.runs):
                took, out = run(gastown, town, argv(r), env)
                times.append(took * 1000)
                lines = out.count(b"\n")
            print("| %d | %s | %.1f | %.1f | %.1f | %s |" % (
                n, name, statistics.median(times), min(times), max(times),
                lines if name in ("ready", "blocked", "list") else ""), flush=True)
        if a.keep:
            print("kept %s" % town)
        else:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
