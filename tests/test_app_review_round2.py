"""A second student's review of the app (Explore, Lessons, Learn, Gallery, Compare): each
page says only what it shows, and shows what it says."""
import io
import json

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
