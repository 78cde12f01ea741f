"""The embedding map's Plotly figure at CIFAR-10's size (60,000 points): how long the server
takes to build it and to write its JSON, how many bytes that JSON is (and which fields they
are in), and, with ``--browser``, how long headless chromium (software WebGL) takes to parse
and draw it, first and again with other neighbours marked (what "Random image" costs the
browser). With ``--browser`` it also draws two 3,000-point maps (one coloured by colour
names, one by the palette with unknown values) as sent and with each point's colour given
as its colour string, the way the map was sent before, and counts the pixels that differ
(0: the user sees the same map). Prints one JSON line.

    python -m bench.map_figure [--points 60000] [--coords map_umap.npy] [--browser]

The points are ten Gaussian blobs (or the ``--coords`` of a run's map), labelled with
CIFAR-10's ten class names. The browser step loads the plotly.js that the plotly package
ships (Streamlit bundles its own build of the same library) into a blank page, so it times
Plotly alone, not Streamlit's frontend.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

DRAW = """async ([first, again, repeats]) => {
  const div = document.getElementById('map');
  const times = [];
  for (let i = 0; i <= repeats; i++) {
    const spec = i % 2 ? again : first;
    const t0 = performance.now();
    const fig = JSON.parse(spec);
    await Plotly.react(div, fig.data, fig.layout);
    await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));  // after the frame is drawn
    times.push(performance.now() - t0);
  }
  return times;
}"""


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=60_000)
    ap.add_argument("--coords", default=None, help="a run's map_umap.npy or map_pca.npy instead of blobs")
    ap.add_argument("--browser", action="store_true", help="also time the drawing in headless chromium")
    return ap


def _as_strings(fig, values, names):
    """The figure with its points' colours as colour strings, as the map was sent before."""
    from ssrl_core.figures import colour_of

    t = fig.data[0]
    t.marker = dict(size=t.marker.size, color=colour_of(values, names), opacity=t.marker.opacity, line=dict(width=0))
    return fig


def _pixel_cases():
    """(sent, with colour strings) JSON of two small maps."""
    import numpy as np

    from ssrl_core.figures import embedding_map

    rng = np.random.default_rng(1)
    out = []
    for values, names in ((rng.integers(-1, 25, 3000), [f"class {i}" for i in range(25)]),
                          (rng.integers(0, 4, 3000), ["red", "green", "blue", "yellow"])):
        coords = ((rng.normal(size=(25, 2)) * 8)[np.maximum(values, 0)] + rng.normal(size=(3000, 2))).astype(np.float32)
        pair = [embedding_map(coords, values, names, highlight=[1, 2], selected=5) for _ in range(2)]
        out.append((pair[0].to_json(), _as_strings(pair[1], values, names).to_json()))
    return out


SHOT = """async (spec) => {
  const fig = JSON.parse(spec);
  await Plotly.newPlot('map', fig.data, fig.layout);
  await new Promise(r => setTimeout(r, 300));
}"""


def _browser_ms(first: str, again: str, repeats: int = 8) -> tuple[list[float], list[int]]:
    """Draw times (ms) of ``first`` then ``again`` alternately, and the differing pixels of
    each ``_pixel_cases`` pair."""
    import io
    from pathlib import Path

    import numpy as np
    from PIL import Image

    import plotly
    from playwright.sync_api import sync_playwright

    from app.serve import CHROMIUM, CHROMIUM_ARGS

    js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.set_content('<div id="map" style="width:1000px;height:560px"></div>')
        page.add_script_tag(path=str(js))
        times = page.evaluate(DRAW, [first, again, repeats])
        differ = []
        for pair in _pixel_cases():
            shots = []
            for spec in pair:
                page.evaluate(SHOT, spec)
                shots.append(np.asarray(Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")))
            differ.append(int((shots[0] != shots[1]).any(2).sum()))
        browser.close()
    return [round(t) for t in times], differ


def main() -> None:
    args = build_parser().parse_args()
    import numpy as np

    from ssrl_core.figures import embedding_map

    rng = np.random.default_rng(0)
    if args.coords:
        coords = np.load(args.coords)
        n = len(coords)
        values = rng.integers(0, 10, n)
    else:
        n = args.points
        values = rng.integers(0, 10, n)
        coords = (rng.normal(size=(10, 2)) * 8)[values] + rng.normal(size=(n, 2))
        coords = coords.astype(np.float32)
    build, write = [], []
    for i in range(3):
        t0 = time.perf_counter()
        fig = embedding_map(coords, values, CIFAR10, highlight=list(range(10 + i, 18 + i)), selected=i)
        build.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        spec = fig.to_json()
        write.append(time.perf_counter() - t0)
    data = json.loads(spec)["data"][0]
    out = {"bench": "map_figure", "points": n, "build_s": round(statistics.median(build), 3),
           "to_json_s": round(statistics.median(write), 3), "json_bytes": len(spec),
           "points_trace_bytes": {k: len(json.dumps(v)) for k, v in data.items() if len(json.dumps(v)) > 1000}}
    if args.browser:
        again = embedding_map(coords, values, CIFAR10, highlight=list(range(100, 108)), selected=99).to_json()
        ms, differ = _browser_ms(spec, again)
        out["browser_first_draw_ms"] = ms[0]
        out["browser_redraw_ms"] = round(statistics.median(ms[1:]))
        out["browser_all_ms"] = ms
        out["pixels_differing_from_colour_strings"] = differ
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
