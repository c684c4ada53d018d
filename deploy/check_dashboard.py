#!/usr/bin/env python3
"""Checks deploy/grafana/*.json offline: each file is JSON, a Grafana dashboard (title, uid, panels), panel ids are
unique, and every metric a query names is one the code records (a `metrics::counter!`/`gauge!`/`histogram!` of
that name under crates/; `_bucket`, `_sum` and `_count` are a histogram's series). Exits non-zero, naming each
problem."""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
METRIC = re.compile(r"\b((?:pinit|http|auth|gateway)_[a-z0-9_]+)\b")
RECORDED = re.compile(r"(?:counter|gauge|histogram)!\(\s*\"([a-z0-9_]+)\"")


def recorded_metrics():
    names = set()
    for path in (ROOT / "crates").rglob("*.rs"):
        names.update(RECORDED.findall(path.read_text(encoding="utf-8")))
    return names


def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def check(path, known):
    problems = []
    try:
        dashboard = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        return [f"{path}: not JSON: {e}"]
    for key in ("title", "uid", "panels"):
        if key not in dashboard:
            problems.append(f"{path}: no `{key}`")
    ids = [p.get("id") for p in panels(dashboard.get("panels", []))]
    if len(ids) != len(set(ids)):
        problems.append(f"{path}: panel ids repeat: {ids}")
    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            for name in METRIC.findall(target.get("expr", "")):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                if name not in known and base not in known:
                    problems.append(f"{path}: panel `{panel.get('title')}` queries `{name}`, which no code records")
    return problems


def main():
    known = recorded_metrics()
    files = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
    if not files:
        print("FAIL deploy/grafana: no dashboard", file=sys.stderr)
        return 1
    problems = [p for f in files for p in check(f, known)]
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
