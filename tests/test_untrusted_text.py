"""Text one student controls and the class sees (a nickname, an imported set's class folders
and file names, a link's values) is shown as typed: it cannot put a link, an image fetched
from outside, a colour or an icon directive, or math on a classmate's page."""
from __future__ import annotations

import re

import pytest

from app.text import code, md
from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore

from .test_app import images, open_page
from .test_import_images import make_zip, png

IMAGE = "![x](http://evil.example/a.png)"
PAYLOAD = IMAGE + " :red[BIG] :material/delete: $x^2$ <http://e.example> **"
NICKNAME = IMAGE + "*"  # as much of the payload as a nickname holds (32 characters: the store refuses more)


def _live(value: str) -> list[str]:
    """What in Markdown ``value`` would still be read as a construct: an image or link opening
    ``[``, a directive's ``:name``, math ``$``, an autolink ``<``, emphasis ``**``, each not
    preceded by a backslash."""
    return re.findall(r"(?<!\\)(?:!?\[|:(?=[a-z])|\$|<|\*\*)", value)


def test_md_and_code_leave_nothing_live():
    assert _live(PAYLOAD)  # the probe sees the constructs
    assert _live(md(PAYLOAD)) == []
    assert md("cat_07.png · #3 · sim 0.912") == r"cat\_07.png · #3 · sim 0.912"  # reads the same
    assert md("a\nb\tc") == "a b c"  # one line
    assert code("x=`![a](u)`") == "`` x=`![a](u)` ``"  # a code span its own backtick cannot close
    assert code("plain") == "`plain`"


# GFM's literal autolinks as Streamlit's Markdown finds them (mdast-util-gfm-autolink-literal's patterns), in the text
# after escapes are read: 'www\.evil.example' was a link in a browser all the same
_LITERAL_LINKS = re.compile(r"(?i)(https?://|www(?=\.))[-.\w]|[-.\w+]+@[-\w]+(\.[-\w]+)+")


@pytest.mark.parametrize("typed", ["www.evil.example", "see http://evil.example/x", "HTTPS://E.example",
                                   "ada@evil.example", "Www.Evil.example"])
def test_md_leaves_no_literal_autolink_and_reads_as_typed(typed):
    from ssrl_core.text import JOINER

    assert _LITERAL_LINKS.search(typed)  # the probe sees the link
    text = re.sub(r"\\(.)", r"\1", md(typed))  # as the renderer reads it, escapes undone
    assert not _LITERAL_LINKS.search(text), text
    assert text.replace(JOINER, "") == typed  # and it shows the characters typed (a word joiner is invisible)


def test_a_nickname_copied_from_a_page_with_its_word_joiner_is_the_same_person():
    """Copied from Gallery ('by ada@\u2060example.com') and pasted into the box, the nickname owned
    none of its runs: invisible format characters are not part of a nickname."""
    from ssrl_core.runs.store import checked_nickname, lessons_own, same_nickname
    from ssrl_core.text import JOINER

    shown = md("ada@example.com")
    assert JOINER in shown and checked_nickname(shown.replace("\\", "")) == "ada@example.com"
    assert same_nickname("www\u2060.example.com", "WWW.example.com") and lessons_own("less\u200bon:collapse")
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="random", epochs=0), nickname="ada@\u2060example.com")
    assert store.get(rid)["nickname"] == "ada@example.com"


def test_a_nickname_is_shown_as_typed_in_the_gallery_and_the_live_panel(finished_run):
    finished_run("random", nickname=NICKNAME)
    at = open_page("gallery")
    cards = [m.value for m in at.markdown if "by **" in m.value]
    assert cards and all(md(NICKNAME) in c and IMAGE not in c for c in cards), cards

    RunStore().submit(RunConfig(dataset="digits", method="simclr", epochs=1), nickname=NICKNAME)
    at = open_page("pretrain", who="ada")
    heads = [m.value for m in at.markdown if " — queued" in m.value]
    assert heads and heads[0].endswith(f"· by {md(NICKNAME)}"), heads
    assert not [m.value for m in at.markdown if IMAGE in m.value]  # the Cancel pop-over's text too


def test_a_teachers_gallery_link_filtered_by_a_nickname_names_it_as_typed(finished_run):
    # the link's "by" (a nickname, which anyone types) said above the cards, where the boxes are hidden
    from .test_app import captions

    finished_run("random", nickname=NICKNAME)
    at = open_page("gallery", by=NICKNAME, hide="controls")
    assert f"Runs by **{md(NICKNAME)}** (from the link)." in captions(at)
    assert not [c.value for c in at.caption if IMAGE in c.value]


def test_class_folder_names_are_shown_as_typed(tmp_path):
    from ssrl_core.data.custom import import_images

    folder = "![x](evil.example)"  # a folder's name holds no '/'
    members = {f"{folder}/{i}.png": png((200, 20 * i, 0)) for i in range(3)}
    members |= {f":red[cats]/{i}.png": png((0, 20 * i, 200)) for i in range(3)}
    import_images(make_zip(tmp_path / "odd.zip", members), name="odd")
    at = open_page("data")
    at.selectbox(key="data_dataset").select("odd").run()
    shown = [c for row in images(at) for c in row]
    assert shown and all(_live(c) == [] for c in shown), shown
    assert any(c.endswith(md(folder)) for c in shown) and any(c.endswith(md(":red[cats]")) for c in shown)


def test_a_links_values_are_named_in_warnings_as_typed():
    value = "`" + IMAGE + "`"
    at = open_page("pretrain", dataset=value)
    said = " ".join(w.value for w in at.warning)
    assert code(f"dataset={value}") in said, said  # a code span the value's backticks cannot close
    at = open_page("lessons", lesson=value)
    assert any(code(value) in w.value for w in at.warning), [w.value for w in at.warning]
    at = open_page(hide=value)
    assert any(code(f"hide={value}") in w.value for w in at.warning)


def test_class_names_are_text_on_the_map_not_plotly_markup():
    """Plotly reads <a href>, <span style> and <b> in a trace's name and hover text: a class
    folder named so put a link or a page-wide font on the map (the app's and map.html's)."""
    import numpy as np

    from ssrl_core.figures import embedding_map

    names = ['<a href="http://evil.example">cat</a>', '<span style="font-size:400px">dog</span>']
    fig = embedding_map(np.zeros((4, 2)), np.array([0, 1, 0, 1]), names)
    shown = [t.name for t in fig.data[1:]] + list(fig.data[0].text)
    assert shown and not any("<" in s for s in shown), shown
    assert fig.data[1].name == '&lt;a href="http://evil.example"&gt;cat&lt;/a&gt;'  # Plotly shows it as typed


def test_the_run_card_writes_the_nickname_and_errors_as_text(finished_run):
    """The exported run_card.md opened in a Markdown viewer (GitHub, an editor's preview):
    a nickname cannot fetch an image there or link away, nor can an error quoting a file name."""
    from ssrl_core.runs.export import card_markdown, run_card

    rid = finished_run("simclr", nickname=NICKNAME)
    card = run_card(RunStore().get(rid)["run_dir"], RunStore().get(rid))
    card["errors"] = {"umap_error": f"cannot read {IMAGE}"}
    text = card_markdown(card)
    title, errors = text.splitlines()[0], text.split("## Errors")[1]
    assert title.startswith("# Run card: simclr on digits by ") and _live(title) == [] and "evil.example" in title
    assert _live(errors) == [] and "evil.example" in errors


def test_md_escapes_math_and_tables_code_fences_any_backticks_and_visible_drops_only_format_characters():
    from ssrl_core.text import one_line, visible

    assert md("$5 | 3$") == r"\$5 \| 3\$"  # no math, no table cell
    assert md("sim\u00a00.912\u2028next") == "sim\u00a00.912 next"  # the no-break space stays, the line break goes
    assert one_line("a\r\nb\x00c") == "a  b c"
    assert code("a `` b") == "```a `` b```"  # one longer than its longest run of backticks, not than their count
    assert code("`x") == "`` `x ``" and code("x`") == "`` x` ``" and code(" ") == "`   `"
    assert visible("ad\u200ba\u2060@\ufeffexample.com") == "ada@example.com"  # zero-width space, word joiner, BOM
    assert visible("Zoë Ångström\u00a0Ω") == "Zoë Ångström\u00a0Ω"


@pytest.mark.parametrize("typed, shown", [("# Ada", r"\# Ada"), ("- bob", r"\- bob"), ("+ cy", r"\+ cy"),
                                          ("1. dee", r"1\. dee"), ("12) eve", r"12\) eve"), ("3.5 kNN", "3.5 kNN"),
                                          ("a - b", "a - b"), ("#3", "#3"), ("## x", r"\## x")])
def test_md_keeps_a_heading_or_list_marker_at_the_start_from_restyling_the_line(typed, shown):
    """A nickname "# Ada" as a caption's first words made the caption a heading, "- bob" a list item (a mutation
    round's reviewer); escaped, they read as typed."""
    assert md(typed) == shown
    assert re.sub(r"\\(.)", r"\1", md(typed)) == typed


def test_the_dispatchers_last_error_is_escaped_on_the_page(monkeypatch):
    """The reason in dispatcher.log can hold any text (an address, a path with underscores): it goes through ``md``."""
    from app import services
    from ssrl_core.runs import ray_backend
    from ssrl_core.text import md

    monkeypatch.setenv("SSRL_BACKEND", "ray")
    monkeypatch.setattr(ray_backend, "last_error", lambda: "cannot reach *head_node*")
    said = services.no_worker_text()
    assert f"The last one stopped: {md('cannot reach *head_node*')}." in said and "*head_node*" not in said


TAG = "<img src=x onerror=alert(1)>"  # 28 characters: a nickname holds it (32 at most)


def test_a_nickname_in_the_gray_bars_caption_of_invariance_is_shown_as_typed_not_run_as_html(finished_run):
    """Two untrained runs alike but for who launched them are named "random (ab12) · untrained · by
    NICKNAME" (``readouts.run_names``); on Invariance, their gray bars' line on the unreliable scale
    is HTML-enabled Markdown (its quiet icon), and a nickname that is a tag was put in it raw."""
    from .test_app import captions

    ours, theirs = finished_run("random", nickname=TAG), finished_run("random", nickname="ada")
    at = open_page("invariance")
    at.multiselect(key="inv_runs").set_value([ours, theirs]).run()
    assert not at.exception
    said = [c.value for c in at.caption if "unreliable scale" in c.value]
    assert said and md(f"by {TAG}") in said[0], captions(at)
    assert not [c.value for c in at.caption if TAG in c.value]
    # the runs' warnings name them too (plain Markdown: no tag runs there, but a link or an image would)
    assert not [w.value for w in at.warning if TAG in w.value]


def test_a_nickname_in_a_runs_name_on_compare_and_invariance_is_shown_as_typed(finished_run):
    """Runs alike but for who launched them are named with the nickname ("simclr (ab12) · by
    NICKNAME"): Compare's neighbours' headings and Invariance's warning of a run whose scores are
    unreliable put that name in Markdown as it was, so a nickname could put an image fetched
    from outside on a classmate's page."""
    import json
    from pathlib import Path

    ours, theirs = finished_run("simclr", nickname=NICKNAME), finished_run("simclr", nickname="ada")
    at = open_page("compare", runs=f"{ours},{theirs}")
    assert not at.exception
    heads = [m.value for m in at.markdown if m.value.startswith("**simclr (")]
    assert len(heads) == 2 and any(md(f"by {NICKNAME}") in h for h in heads), heads
    assert not [m.value for m in at.markdown if IMAGE in m.value]

    run_dir = Path(RunStore().get(ours)["run_dir"])
    probes = json.loads((run_dir / "probes.json").read_text())
    probes["invariance"] = {op: {**e, "unrelated": 0.997} for op, e in probes["invariance"].items()}
    (run_dir / "probes.json").write_text(json.dumps(probes))
    at = open_page("invariance")
    at.multiselect(key="inv_runs").set_value([ours, theirs]).run()
    warned = [w.value for w in at.warning if "unreliable" in w.value]
    assert warned and md(f"by {NICKNAME}") in warned[0], warned
    assert not [w.value for w in at.warning if IMAGE in w.value]


def test_a_nickname_in_a_charts_names_is_text_not_plotly_markup(finished_run):
    """Runs alike but for who launched them are named with the nickname, and Plotly reads
    ``<a href>``, ``<span style>`` and ``<b>`` in a trace's name, hover text and tick labels:
    a nickname made a link in a classmate's legend on Compare, Evaluate and Invariance. Each chart
    goes through ``charts.text_only`` (``widgets.chart``); its screen-reader text says the name as typed."""
    import json

    link = '<a href="http://e.example">x</a>'  # 27 characters: a nickname holds 32
    ours, theirs = finished_run("simclr", nickname=link), finished_run("simclr", nickname="ada")
    for page, params in (("compare", {"runs": f"{ours},{theirs}"}), ("evaluate", {"runs": f"{ours},{theirs}"}),
                         ("invariance", {"runs": f"{ours},{theirs}"})):
        at = open_page(page, **params)
        specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        shown = json.dumps([[{k: t.get(k) for k in ("name", "text", "hovertext")} for t in s["data"]]
                            + [s["layout"].get(a, {}).get("ticktext") for a in s["layout"] if "axis" in a]
                            for s in specs])
        assert specs and "<a href" not in shown and "&lt;a href=" in shown, (page, shown[:2000])
        alts = " ".join(c.proto.alt for c in at.get("plotly_chart"))  # (AppTest's element: its proto)
        assert f"by {link}" in alts, (page, alts[:500])
