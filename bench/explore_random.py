"""Explore's "Random image" in a real browser (headless Debian chromium) with a finished run
already in SSRL_HOME: the time from opening the page to its map being drawn, and from each
click on "Random image" until the map shows the new image marked (its neighbours' query,
the page's rerun, the figure sent and drawn again). ``--shot`` saves the drawn map before
any click, to compare two versions of the app pixel by pixel. Prints one JSON line.

    SSRL_HOME=HOME python -m bench.explore_random [--run ID] [--clicks 4] [--shot map.png]

Serves the app (no worker) with HOME's runs; by default the newest finished run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

# the map is drawn with all its points, and (after a click) a selected row other than ``prev``
SELECTED = """([n, prev]) => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData || !gd._fullData.length || !gd._fullData[0].x
      || gd._fullData[0].x.length !== n || !gd.querySelector('canvas')) return false;
  if (prev === -2) return true;
  const s = gd._fullData.find(t => t.name === 'selected');
  const row = s ? s.customdata[0] : null;
  return row !== null && row !== prev ? row : false;
}"""


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=None, help="a finished run's id (default: the newest)")
    ap.add_argument("--clicks", type=int, default=4)
    ap.add_argument("--shot", default=None, help="save the drawn map before any click as this PNG")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    os.environ.setdefault("SSRL_NO_AUTOSTART", "1")
    from playwright.sync_api import sync_playwright

    from app.serve import CHROMIUM, CHROMIUM_ARGS, ROOT, served_app
    from ssrl_core.runs.artifacts import RunArtifacts
    from ssrl_core.runs.store import RunStore

    runs = [r for r in RunStore().list() if r["status"] == "done"]
    run = next((r for r in runs if r["id"] == args.run), None) if args.run else (runs[0] if runs else None)
    if run is None:
        raise SystemExit(f"no finished run {args.run or ''} in {os.environ.get('SSRL_HOME')}")
    n = len(RunArtifacts(run["run_dir"]).map()[0])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with served_app(env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(240_000)
        t0 = time.perf_counter()
        page.goto(f"{url}/explore?run={run['id']}")
        page.wait_for_function(SELECTED, arg=[n, -2])
        open_s = time.perf_counter() - t0
        if args.shot:
            time.sleep(2)  # plotly's last layout pass
            page.locator(".js-plotly-plot").first.screenshot(path=args.shot)
        prev, clicks = None, []
        for _ in range(args.clicks):
            t0 = time.perf_counter()
            page.get_by_role("button", name="Random image").click()
            prev = page.wait_for_function(SELECTED, arg=[n, prev]).json_value()
            clicks.append(round(time.perf_counter() - t0, 2))
        browser.close()
    print(json.dumps({"bench": "explore_random", "run": run["id"], "points": n, "open_to_map_s": round(open_s, 2),
                      "random_image_to_map_s": clicks, "median_s": statistics.median(clicks)}), flush=True)


if __name__ == "__main__":
    main()
