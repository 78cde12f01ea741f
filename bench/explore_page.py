"""The explore page with a 10,000-image run: how long from choosing the run in the picker to
its map being drawn in a real browser (headless Debian chromium), and how long a neighbour
query takes on the server.

    python -m bench.explore_page [--repeats 5]

Makes two finished `shapes` runs (10,000 images; the untrained `random` encoder with two
seeds, so nothing is trained) in a fresh SSRL_HOME with the worker, serves the app, then
switches the picker between them ``--repeats`` times, timing from the click on the option
to the moment Plotly has drawn a 10,000-point map of the chosen run. The neighbour query is
timed where the page runs it (``RunArtifacts.neighbours``: faiss search of the cached
index), first call and steady state, and so is the whole explore script rerun a point
click causes (Streamlit's AppTest, no browser). Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.serve import CHROMIUM, CHROMIUM_ARGS, ROOT, served_app

DRAWN = """(rid) => {
  const el = document.querySelector('.st-key-map_' + rid + ' .js-plotly-plot');
  return !!(el && el._fullData && el._fullData.length && el._fullData[0].x
            && el._fullData[0].x.length === 10000 && el.querySelector('canvas'));
}"""


def _make_runs(env: dict) -> list[str]:
    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    store = RunStore()
    ids = [store.submit(RunConfig(dataset="shapes", method="random", encoder="cnn-small", seed=s)) for s in (0, 1)]
    subprocess.run([sys.executable, "-m", "ssrl_core", "worker", "--once"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    for rid in ids:
        run = store.get(rid)
        assert run["status"] == "done", run
    return ids


def _server_times(run_dir: str, repeats: int = 200) -> dict:
    from ssrl_core.runs.artifacts import RunArtifacts

    art = RunArtifacts(run_dir)
    t0 = time.perf_counter()
    art.neighbours(0, k=8)
    first = time.perf_counter() - t0
    times = []
    for row in range(1, repeats + 1):
        t0 = time.perf_counter()
        art.neighbours(row * 37 % 10_000, k=8)
        times.append(time.perf_counter() - t0)
    return {"neighbour_query_first_ms": round(first * 1000, 2),
            "neighbour_query_ms": round(statistics.median(times) * 1000, 3)}


def _click_rerun_seconds(rid: str, repeats: int = 5) -> float:
    """Server time of the explore script rerun that a click on a point causes."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "explore.py"), default_timeout=120)
    at.query_params["run"] = rid
    at.run()
    times = []
    for i in range(repeats):
        at.session_state[f"explore_row_{rid}"] = 100 + i
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    return round(statistics.median(times), 3)


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    return ap


def main() -> None:
    args = build_parser().parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SSRL_HOME"] = str(Path(tmp) / "home")
        os.environ["SSRL_NO_AUTOSTART"] = "1"
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        ids = _make_runs(env)
        make_s = time.perf_counter() - t0
        from ssrl_core.runs.store import RunStore

        run_dirs = {rid: RunStore().get(rid)["run_dir"] for rid in ids}
        switch = []
        with served_app(env) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            t0 = time.perf_counter()
            page.goto(url + "/explore")
            page.wait_for_function(DRAWN, arg=ids[-1])  # the newest run is shown first
            first_open = time.perf_counter() - t0
            for i in range(args.repeats):
                target = ids[i % 2]
                page.get_by_label("Run").click()  # the picker's dropdown
                option = page.get_by_role("option", name=target)
                option.wait_for()
                t0 = time.perf_counter()
                option.click()
                page.wait_for_function(DRAWN, arg=target)
                switch.append(time.perf_counter() - t0)
            browser.close()
        out = {"bench": "explore_page", "points": 10_000, "make_runs_s": round(make_s, 1),
               "first_open_to_map_s": round(first_open, 2),
               "choose_run_to_map_s": round(statistics.median(switch), 2),
               "choose_run_to_map_all_s": [round(s, 2) for s in switch],
               **_server_times(run_dirs[ids[0]]),
               "click_rerun_server_s": _click_rerun_seconds(ids[0])}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
