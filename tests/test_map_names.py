"""Each group's name written on the map, where most of its points are: the map reads
without telling ten colours apart, in the app and in the exported PNG."""
import io
import json

import numpy as np
from PIL import Image

from ssrl_core.figures import MAX_NAMED, PALETTE, UNKNOWN, _rgb, colour_of, embedding_map, group_anchors, map_png

from .test_app import open_page


def _islands():
    """Class 0: a big island at (0, 0) and a smaller one at (100, 0), so that its median
    lies between them; class 1 at (50, 50) with three stragglers inside class 0's island."""
    rng = np.random.default_rng(0)
    coords = np.concatenate([rng.normal((0, 0), 1, (20, 2)), rng.normal((100, 0), 1, (19, 2)),
                             rng.normal((50, 50), 1, (30, 2)), rng.normal((0, 0), 1, (3, 2))])
    values = np.array([0] * 39 + [1] * 33)
    return coords, values


def test_a_group_is_named_in_its_largest_island_not_between_islands_or_at_its_stragglers():
    coords, values = _islands()
    anchors = group_anchors(coords, values, 2)
    assert abs(anchors[0][0]) < 5 and abs(anchors[0][1]) < 5  # the 20-point island, not the middle (~49, 0)
    assert np.hypot(anchors[1][0] - 50, anchors[1][1] - 50) < 5
    for v, at in anchors.items():  # always on a point of its own value
        assert any(np.allclose(at, c) for c in coords[values == v])


def test_which_groups_get_a_name():
    coords, values = _islands()
    assert group_anchors(coords, np.zeros(len(coords), int), 1) == {}  # one group: the legend says it all
    unknown = values.copy()
    unknown[:5] = -1  # unknown values, and values past the names, are not named
    assert set(group_anchors(coords, unknown, 2)) == {0, 1}
    assert set(group_anchors(coords, np.where(values == 1, 7, 0), 2)) == set()  # only one named group left
    with_nan = coords.copy()
    with_nan[values == 1] = np.nan  # points with no place on the map have no name either
    assert group_anchors(with_nan, values, 2) == {}
    row = np.array([[10.0 * (i // 4), 0.1 * (i % 4)] for i in range(4 * (MAX_NAMED + 1))])  # islands of 4 in a row
    many = np.arange(len(row)) // 4
    assert group_anchors(row, many, MAX_NAMED + 1) == {}  # more names than that would cover the points
    assert len(group_anchors(row[:4 * MAX_NAMED], many[:4 * MAX_NAMED], MAX_NAMED)) == MAX_NAMED
    assert group_anchors(np.zeros((0, 2)), np.zeros(0, int), 3) == {}


def test_a_group_mixed_with_others_where_it_is_thickest_gets_no_name():
    """A new user saw 'squares' and 'circles' each written on a cluster holding both alike (kNN
    0.58), which read as the encoder having told them apart."""
    rng = np.random.default_rng(0)
    mixed = np.concatenate([rng.normal((0, 0), 1, (40, 2)), rng.normal((30, 0), 1, (40, 2))])
    alike = np.tile([0, 1], 40)  # both clusters half squares, half circles
    assert group_anchors(mixed, alike, 2) == {}
    apart = np.repeat([0, 1], 40)  # one cluster each
    assert set(group_anchors(mixed, apart, 2)) == {0, 1}
    third = np.where(np.arange(80) % 2 == 0, apart, 2)  # half of each cluster is a third group's
    assert group_anchors(mixed, third, 3) == {}  # 50% of each core: no name clears MIN_SHARE


def test_the_app_s_map_writes_the_names_escaped_and_edged_in_their_colour():
    coords, values = _islands()
    names = ["<b>cat</b>", "dog"]
    fig = embedding_map(coords, values, names)
    notes = {a.text: a for a in fig.layout.annotations}
    assert set(notes) == {"&lt;b&gt;cat&lt;/b&gt;", "dog"}  # Plotly would read the tags
    assert notes["dog"].bordercolor == colour_of([1])[0] and notes["dog"].showarrow is False
    assert (notes["dog"].x, notes["dog"].y) == group_anchors(coords, values, 2)[1]
    assert not embedding_map(coords, values, names, name_groups=False).layout.annotations


def test_a_name_moves_up_off_the_selected_images_star():
    """The selected image's star sat under its group's name box, at the group's centre, where a
    clicked point often is: that name is drawn 28 px higher; the others stay where they are."""
    coords, values = _islands()
    anchors = group_anchors(coords, values, 2)
    centre = int(np.argmin(((coords - np.asarray(anchors[1])) ** 2).sum(1)))  # the point nearest dog's name
    notes = {a.text: a for a in embedding_map(coords, values, ["cat", "dog"], selected=centre).layout.annotations}
    assert notes["dog"].yshift == 28 and notes["cat"].yshift == 0
    far = int(np.argmax(((coords - np.asarray(anchors[1])) ** 2).sum(1) * (values == 0)))  # a cat on its small island, far from both names
    notes = {a.text: a for a in embedding_map(coords, values, ["cat", "dog"], selected=far).layout.annotations}
    assert notes["dog"].yshift == notes["cat"].yshift == 0


def test_the_exported_png_writes_the_names_on_the_map_too():
    coords, values = _islands()
    size = 400
    with_names = np.asarray(Image.open(io.BytesIO(map_png(coords, values, size=size, value_names=["cat", "dog"]))))
    without = np.asarray(Image.open(io.BytesIO(map_png(coords, values, size=size))))
    changed = np.argwhere((with_names[:, :size] != without).any(-1))  # the map part only, not the legend strip
    assert len(changed)
    # two boxes: one around each anchor (class 0 left, at x ~ 0; class 1 up the middle), edged in the class's colour
    left, middle = changed[changed[:, 1] < size // 4], changed[(changed[:, 1] > size // 3) & (changed[:, 1] < 2 * size // 3)]
    assert len(left) and len(middle) and middle[:, 0].max() < size // 2  # class 1's box is in the upper half
    edge = _rgb(colour_of([1])[0])
    assert (with_names[middle[:, 0], middle[:, 1]] == edge).all(-1).any()
    dark = (with_names[:, :size] < 80).all(-1)  # the names' text (anti-aliased: dark, not one value)
    assert dark.sum() > 20 and not (without < 80).all(-1).any()


def test_explore_names_the_groups_unless_the_link_says_names_off(finished_run):
    finished_run("simclr")
    at = open_page("explore", names="off")  # a teacher's link: the class guesses first
    assert not at.toggle(key="explore_names").value
    for chart in at.get("plotly_chart")[:2]:  # the map and the map-evolution frame
        assert not json.loads(chart.proto.spec)["layout"].get("annotations")
    at.toggle(key="explore_names").set_value(True).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    named = {a["text"] for a in spec["layout"]["annotations"]}
    # after 1 epoch a digit or two may sit among others where it is thickest, and go unnamed (MIN_SHARE)
    assert named <= {str(d) for d in range(10)} and len(named) >= 7, named
    assert "names" not in at.query_params  # on is the default, which a link leaves out


def test_values_of_which_only_some_are_colour_names_get_the_palette_and_unknown_points_a_legend_entry():
    assert colour_of([0, 1, -1], ["red", "circle"]) == [PALETTE[0], PALETTE[1], UNKNOWN]
    size = 100
    img = Image.open(io.BytesIO(map_png(np.array([[0, 0], [1, 1], [2, 0]]), np.array([0, 1, -1]), size=size,
                                        value_names=["cat", "dog"])))
    swatches = [img.getpixel((size + 13, 10 + i * 16 + 5)) for i in range(4)]  # the legend strip's squares, in order
    assert swatches == [_rgb(UNKNOWN), _rgb(PALETTE[0]), _rgb(PALETTE[1]), (255, 255, 255)]  # -1 sorts first
