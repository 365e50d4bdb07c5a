#!/usr/bin/env python3
"""Index a folder of Go vulnerability reports (OSV JSON, as in the data/osv
folder of the golang.org/x/vulndb module) into the layout govulncheck's
`-db file://DIR` reads: DIR/index/{db,modules,vulns}.json and DIR/ID/*.json.

It writes what golang.org/x/vulndb's own cmd/indexdb writes (same fields and
values), with the standard library only, so building the database costs no
compile of vulndb's dependencies.

Usage: vulndb-index.py OSV_DIR OUT_DIR
"""
import json
import os
import re
import shutil
import sys

ZERO = "0001-01-01T00:00:00Z"  # indexdb records no modification times either
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+.*)?$")


def semver_key(v):
    """A sort key for a SemVer 2.0.0 version without a leading v."""
    m = SEMVER.match(v)
    if not m:
        return ((-1, -1, -1), (1,), v)
    core = tuple(int(x) for x in m.group(1, 2, 3))
    pre = m.group(4)
    if pre is None:
        return (core, (1,), "")  # a release sorts after its pre-releases
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (core, (0,) + parts, "")


def latest_fixed(ranges):
    """The version from which no later version is affected, or "" when the
    latest event introduces the vulnerability (no fix yet)."""
    events = []
    for r in ranges or []:
        if r.get("type") != "SEMVER":
            continue
        for e in r.get("events", []):
            for kind in ("introduced", "fixed"):
                if kind in e:
                    events.append((semver_key(e[kind]) if e[kind] != "0" else ((0, 0, 0), (-1,), ""), kind, e[kind]))
    if not events:
        return ""
    events.sort(key=lambda t: t[0])
    last = events[-1]
    return last[2] if last[1] == "fixed" else ""


def main(src, out):
    ids = os.path.join(out, "ID")
    index = os.path.join(out, "index")
    os.makedirs(ids)
    os.makedirs(index)
    modules, vulns = {}, []
    for name in sorted(os.listdir(src)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            entry = json.load(f)
        shutil.copyfile(os.path.join(src, name), os.path.join(ids, entry["id"] + ".json"))
        vuln = {"id": entry["id"], "modified": ZERO}
        if entry.get("aliases"):
            vuln["aliases"] = entry["aliases"]
        vulns.append(vuln)
        for aff in entry.get("affected", []):
            path = aff["package"]["name"]
            mv = {"id": entry["id"], "modified": ZERO}
            fixed = latest_fixed(aff.get("ranges"))
            if fixed:
                mv["fixed"] = fixed
            # One item per affected block, as indexdb writes them.
            modules.setdefault(path, {"path": path, "vulns": []})["vulns"].append(mv)
    for mod in modules.values():
        mod["vulns"].sort(key=lambda v: v["id"])
    for name, value in (
        ("db.json", {"modified": ZERO}),
        ("modules.json", [modules[p] for p in sorted(modules)]),
        ("vulns.json", sorted(vulns, key=lambda v: v["id"])),
    ):
        with open(os.path.join(index, name), "w", encoding="utf-8") as f:
            json.dump(value, f, separators=(",", ":"))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
