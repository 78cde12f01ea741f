"""A second student's review of the app (Explore, Lessons, Learn, Gallery, Compare): each
page says only what it shows, and shows what it says."""
import io
import json
from pathlib import Path

import numpy as np

from ssrl_core.figures import NAMED_COLOURS, PALETTE, colour_of, embedding_map, map_png

from .test_app import open_page


def test_a_factor_named_by_colours_is_drawn_in_those_colours():
    names = ["red", "yellow", "green", "cyan", "blue", "magenta"]
    values = np.array([3, 0, 5, -1])
    assert colour_of(values, names)[:3] == [NAMED_COLOURS["cyan"], NAMED_COLOURS["red"], NAMED_COLOURS["magenta"]]
    assert colour_of(values, ["circle", "square", "x", "y", "z", "w"])[:3] == [PALETTE[3], PALETTE[0], PALETTE[5]]
    fig = embedding_map(np.zeros((4, 2)), values, names)
    legend = {t.name: t.marker.color for t in fig.data[1:]}
    assert legend["cyan"] == NAMED_COLOURS["cyan"] and legend["red"] == NAMED_COLOURS["red"]
    assert list(fig.data[0].marker.color)[:3] == colour_of(values, names)[:3]
    from PIL import Image  # the exported PNG uses the same colours

    png = Image.open(io.BytesIO(map_png(np.array([[0.5, 0.5]]), np.array([3]), size=50, point=5)))
    assert png.getpixel((25, 25)) != tuple(int(NAMED_COLOURS["cyan"][i:i + 2], 16) for i in (1, 3, 5))  # no names
    png = Image.open(io.BytesIO(map_png(np.array([[0.5, 0.5]]), np.array([3]), size=50, point=5, value_names=names)))
    assert png.getpixel((25, 25)) == tuple(int(NAMED_COLOURS["cyan"][i:i + 2], 16) for i in (1, 3, 5))


def test_explore_colours_shapes_by_their_own_colour(finished_run):
    finished_run("shapes-simclr")
    at = open_page("explore")
    at.selectbox(key="explore_colour").select("color").run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    points, *legend = spec["data"]
    colours = {t["name"]: t["marker"]["color"] for t in legend if t["name"] in NAMED_COLOURS}
    assert len(colours) == 6 and all(c == NAMED_COLOURS[n] for n, c in colours.items())
    for text, colour in zip(points["text"], points["marker"]["color"]):
        assert colour == NAMED_COLOURS[text]  # a point named cyan is drawn cyan


def test_explore_the_image_box_follows_the_chosen_image_and_the_address_keeps_it(finished_run):
    from .test_app import images

    rid = finished_run("simclr")
    at = open_page("explore")
    at.number_input(key=f"explore_pick_{rid}").set_value(7).run()  # typed and Enter: no button needed
    assert images(at)[0][0].startswith("query: #7 ")
    assert at.query_params["image"] in ("7", ["7"])
    at.button(key="explore_random").click().run()
    chosen = int(images(at)[0][0].split("#")[1].split()[0])
    assert at.number_input(key=f"explore_pick_{rid}").value == chosen  # the box shows it, not a stale 7
    assert not at.exception and not at.warning
    nbrs = [c for row in images(at)[1:] for c in row]
    assert len(nbrs) == 8 and all(c.startswith("#") for c in nbrs)  # each neighbour's number, to open it

    again = open_page("explore", image="12")  # a reload or a shared link
    assert images(again)[0][0].startswith("query: #12 ")
    assert again.number_input(key=f"explore_pick_{rid}").value == 12


def test_explore_counts_shared_values_of_what_the_map_is_coloured_by(finished_run):
    finished_run("shapes-simclr")
    at = open_page("explore", image="3", colour="color")
    from .test_app import captions

    text = captions(at)
    assert "neighbours share the query's color (" in text and "share the query's label" not in text


def test_explore_on_an_unlabelled_set_claims_no_shared_labels(tmp_path):
    from ssrl_core.config import RunConfig
    from ssrl_core.data.custom import import_images
    from ssrl_core.runs.execute import execute
    from ssrl_core.runs.store import RunStore

    from .test_app import captions, images
    from .test_import_images import make_zip, png

    import_images(make_zip(tmp_path / "loose.zip", {f"{i}.png": png((i * 20, 0, 0)) for i in range(12)}), "loose")
    store = RunStore()
    cfg = RunConfig(dataset="loose", method="random", epochs=0)
    rid = store.submit(cfg)
    store.claim("test")
    store.finish(rid, "done", summary=execute(cfg, Path(store.get(rid)["run_dir"]), with_umap=False))
    at = open_page("explore", image="0")
    assert not at.exception
    text = captions(at)
    assert "share the query's" not in text and "is unknown, so the neighbours cannot be checked" in text
    query, *nbrs = images(at)
    nbrs = [c for row in nbrs for c in row]
    assert 0 < len(nbrs) <= 8
    assert any(f"its {len(nbrs)} nearest neighbours" in m.value for m in at.markdown)
