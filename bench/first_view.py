"""Each page's first view in a fresh server process: how long a person waits after the app
(re)started, before anything was cached in that process.

    python -m bench.first_view [--pages pretrain,explore] [--home DIR]

Each page is opened in its own new Python process through Streamlit's AppTest: the start
page first (as a browser does), then the page, timed; then the page again (the usual case,
from the process's caches). ``--home`` uses an existing SSRL_HOME (its runs make the result
pages draw); without it a fresh, empty one (digits needs no files). Prints one JSON line
per page.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pretrain", "data", "augment", "explore", "evaluate", "invariance", "compare", "gallery", "lessons", "learn")

_ONE = """
import json, sys, time
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({main!r}, default_timeout=600)
t = time.perf_counter(); at.run(); start = time.perf_counter() - t
at.switch_page("../pages/{page}.py")
t = time.perf_counter(); at.run(); first = time.perf_counter() - t
t = time.perf_counter(); at.run(); again = time.perf_counter() - t
print(json.dumps({{"page": {page!r}, "start_page_s": round(start, 2), "first_view_s": round(first, 2),
                  "again_s": round(again, 2), "errors": [e.value for e in at.exception]}}))
"""


def first_view(page: str, home: Path) -> dict:
    env = dict(os.environ, SSRL_HOME=str(home), SSRL_NO_AUTOSTART="1", PYTHONPATH=str(ROOT))
    code = _ONE.format(main=str(ROOT / "app" / "main.py"), page=page)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        return {"page": page, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated page names (default: every page)")
    ap.add_argument("--home", type=Path, help="an SSRL_HOME to read (default: a fresh, empty one)")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    pages = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = sorted(set(pages) - set(PAGES))
    if unknown:
        ap.error(f"unknown page {', '.join(unknown)}: choose from {', '.join(PAGES)}")
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        for page in pages:
            print(json.dumps(first_view(page, home)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
