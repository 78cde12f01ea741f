"""A page's link reproduces what it shows: each control that defines the view is in the address
(docs/design.md, "Page state in the URL"), found missing by a browser review of every page's link."""
from __future__ import annotations

from ssrl_core.data.custom import import_images

from .test_app import all_images, images, open_page
from .test_import_images import make_zip, png


def _param(at, name):
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def test_explore_link_keeps_the_epoch_of_how_the_map_formed(finished_run):
    # a teacher slid "How the map formed" to epoch 0 (before pretraining) and shared the address: the class saw the
    # last epoch
    rid = finished_run("simclr")
    at = open_page("explore", run=rid)
    at.select_slider(key=f"explore_epoch_{rid}").set_value(0).run()
    assert _param(at, "epoch") == "0"
    again = open_page("explore", run=rid, epoch="0")
    assert again.select_slider(key=f"explore_epoch_{rid}").value == 0 and not again.warning
    # the last epoch, the default, is left out of the address
    at.select_slider(key=f"explore_epoch_{rid}").set_value(1).run()
    assert _param(at, "epoch") is None
    bad = open_page("explore", run=rid, epoch="7")
    assert bad.select_slider(key=f"explore_epoch_{rid}").value == 1 and not bad.exception
    assert any("Ignored `epoch=7` from the link (not one of 0, 1); using `1` instead." in w.value for w in bad.warning)


def test_compare_link_keeps_the_query_image(finished_run):
    # the image whose neighbours a teacher compared across runs was not in the address: the class saw #9's
    a, b = finished_run("simclr"), finished_run("rotation")
    at = open_page("compare", runs=f"{a},{b}")
    at.number_input(key="cmp_query_digits").set_value(12).run()
    assert _param(at, "image") == "12"
    again = open_page("compare", runs=f"{a},{b}", image="12")
    assert again.number_input(key="cmp_query_digits").value == 12 and images(again)[0][0].startswith("query #12 · ")
    bad = open_page("compare", runs=f"{a},{b}", image="-4")
    assert bad.number_input(key="cmp_query_digits").value == 9 and not bad.exception
    assert any("Ignored `image=-4` from the link (outside 0–1796); using `9` instead." in w.value for w in bad.warning)


def test_compare_says_a_links_colour_is_of_no_use_where_it_draws_no_colour_box(finished_run):
    # colour=size on two digits runs: kept in the address and the maps coloured by label without a word (Explore says)
    a, b, s = finished_run("simclr"), finished_run("rotation"), finished_run("shapes-simclr")
    for runs, why in (((a, b), "their dataset has no factors"), ((a, s), "they are of different datasets")):
        at = open_page("compare", runs=",".join(runs), colour="size")
        assert not at.exception and _param(at, "colour") is None
        assert any(f"Ignored `colour=size` from the link (these runs' maps are coloured by label only: {why})"
                   in w.value for w in at.warning), [w.value for w in at.warning]
    assert not [w for w in open_page("compare", runs=f"{a},{b}", colour="label").warning if "colour" in w.value]


def test_data_link_keeps_the_classes_and_the_caption_shown():
    # "Only these classes" and "Caption with" were not in the address: a teacher's link to shapes' hearts, captioned
    # by colour, opened on every class captioned by label
    at = open_page("data", dataset="shapes")
    at.multiselect(key="data_classes").set_value(["heart", "star"]).run()
    at.selectbox(key="data_caption").select("color").run()
    assert (_param(at, "classes"), _param(at, "caption")) == ("heart,star", "color")
    again = open_page("data", dataset="shapes", classes="heart,star", caption="color")
    assert again.multiselect(key="data_classes").value == ["heart", "star"]
    assert again.selectbox(key="data_caption").value == "color"
    assert {c.split(" · ")[1] for c in all_images(again)} == {"heart", "star"}
    bad = open_page("data", dataset="shapes", classes="heart,dragon", caption="smell")
    assert not bad.exception and bad.multiselect(key="data_classes").value == ["heart"]
    said = " ".join(w.value for w in bad.warning)
    assert "Ignored part of `classes=heart,dragon` from the link (dragon: not one of" in said
    assert "Ignored `caption=smell` from the link" in said


def test_data_link_keeps_a_class_with_a_comma_in_its_name(tmp_path):
    # an imported set's class folder "cats, big": the link's list was cut at its comma, into two unknown classes
    members = {f"p/{c}/{i}.png": png((40 * i, 90 if c == "dogs" else 10, 7)) for c in ("cats, big", "dogs") for i in range(5)}
    import_images(make_zip(tmp_path / "a.zip", members), "commas", size=16)
    at = open_page("data", dataset="commas")
    at.multiselect(key="data_classes").set_value(["cats, big", "dogs"]).run()
    link = _param(at, "classes")
    again = open_page("data", dataset="commas", classes=link)
    assert again.multiselect(key="data_classes").value == ["cats, big", "dogs"]
    assert not [w for w in again.warning if "Ignored" in w.value]
    assert open_page("data", dataset="commas", classes="cats, big").multiselect(key="data_classes").value == ["cats, big"]


def test_invariance_link_keeps_the_labels_per_factor_value(finished_run):
    # the factor probes read with every label, shared, opened on 2 per value: another chart, another chance line
    rid = finished_run("shapes-simclr")
    at = open_page("invariance", runs=rid)
    at.radio(key="inv_budget").set_value("all").run()
    assert _param(at, "labels") == "all"
    again = open_page("invariance", runs=rid, labels="all")
    assert again.radio(key="inv_budget").value == "all" and not again.warning
    bad = open_page("invariance", runs=rid, labels="-3")
    assert bad.radio(key="inv_budget").value == "2" and not bad.exception
    assert any("Ignored `labels=-3` from the link (not one of 2, all); using `2` instead." in w.value
               for w in bad.warning)


def test_a_links_list_keeps_a_class_with_a_comma_after_a_space_typed_after_a_comma():
    # "dogs, cats, big" as a teacher types a list (a space after each comma): the piece " cats, big" begins with a
    # space, and was matched unstripped, so "cats, big" was cut into two unknown classes
    from app import urlstate

    parse = urlstate.choices(["cats, big", "dogs"])
    assert parse("dogs, cats, big") == ["dogs", "cats, big"]
    assert parse("cats, big ,dogs") == ["cats, big", "dogs"]


def test_explore_links_epoch_is_its_runs_and_comes_back_with_the_page(finished_run):
    # the frame picked is of the run it was picked on: another run picked opens at its own last epoch (the address
    # still held the first one's epoch=0), and leaving the page and coming back keeps the frame picked
    a, b = finished_run("simclr"), finished_run("rotation")
    at = open_page("explore", run=a)
    at.select_slider(key=f"explore_epoch_{a}").set_value(0).run()
    at.switch_page("../pages/data.py").run()
    at.switch_page("../pages/explore.py").run()
    assert at.select_slider(key=f"explore_epoch_{a}").value == 0 and _param(at, "epoch") == "0"
    at.selectbox(key="explore_run").set_value(b).run()
    assert at.select_slider(key=f"explore_epoch_{b}").value == 1 and _param(at, "epoch") is None


def test_compare_links_query_image_is_left_out_at_its_default_and_comes_back_with_the_page(finished_run):
    a, b = finished_run("simclr"), finished_run("rotation")
    at = open_page("compare", runs=f"{a},{b}")
    assert at.number_input(key="cmp_query_digits").value == 9 and _param(at, "image") is None  # the default: no `image=9`
    at.number_input(key="cmp_query_digits").set_value(12).run()
    at.switch_page("../pages/data.py").run()
    at.switch_page("../pages/compare.py").run()
    assert at.number_input(key="cmp_query_digits").value == 12 and _param(at, "image") == "12"


def test_data_links_classes_come_back_with_the_page():
    at = open_page("data", dataset="shapes")
    at.multiselect(key="data_classes").set_value(["heart"]).run()
    at.switch_page("../pages/augment.py").run()
    at.switch_page("../pages/data.py").run()
    assert at.multiselect(key="data_classes").value == ["heart"] and _param(at, "classes") == "heart"


def test_invariance_links_labels_per_factor_value_are_left_out_at_their_default(finished_run):
    rid = finished_run("shapes-simclr")
    at = open_page("invariance", runs=rid)
    at.radio(key="inv_budget").set_value("all").run()
    at.radio(key="inv_budget").set_value("2").run()
    assert _param(at, "labels") is None  # not `labels=2`: a link as short as the view allows


def test_back_on_one_page_leaves_the_image_chosen_on_explore(finished_run):
    # the browser's Back within Pretrain dropped every state marked as started from the address, Explore's image
    # chosen for a run with it (kept across pages, unlike a widget's): back on Explore, no image was chosen any more
    a = finished_run("simclr")
    at = open_page("explore", run=a, image="5")
    at.switch_page("../pages/pretrain.py").run()
    at.query_params.clear()
    at.query_params["epochs"] = "3"
    at.run()  # (a change on Pretrain: the address it leaves)
    del at.query_params["epochs"]
    at.run()  # Back: the address gone back to
    assert [n.value for n in at.number_input if n.label == "Epochs"] == [10]  # Pretrain followed the address
    at.switch_page("../pages/explore.py").run()
    assert not at.exception and _param(at, "image") == "5"
    assert at.session_state[f"explore_row_{a}"] == 5


def test_back_straight_after_coming_back_to_pretrain_keeps_its_form():
    # the sidebar back to Pretrain opens it bare and its parameters are put back (urlstate.restore); a Back from there
    # went to the bare address and started the form from it: Epochs at its default, the student's 3 gone (a review)
    at = open_page("pretrain")
    at.number_input(key="pt_epochs").set_value(3).run()
    assert _param(at, "epochs") == "3"
    at.switch_page("../pages/augment.py").run()
    at.query_params.clear()
    at.switch_page("../pages/pretrain.py").run()  # (the sidebar's link carries no parameters)
    assert _param(at, "epochs") == "3"
    at.query_params.clear()
    at.run()  # Back, to the bare address of before the parameters were put back
    assert [n.value for n in at.number_input if n.label == "Epochs"] == [3]
    at.query_params["epochs"] = "5"
    at.run()  # a Back within the page later still follows the address
    assert [n.value for n in at.number_input if n.label == "Epochs"] == [5]


def test_data_link_keeps_the_shuffled_sample():
    # a teacher pressed Shuffle until the sample showed a hard case and shared the address: the class saw the first
    # sample, since the shuffle was not in the link
    at = open_page("data", dataset="shapes")
    first = all_images(at)
    at.button(key="data_shuffle").click().run()
    at.button(key="data_shuffle").click().run()
    shuffled = all_images(at)
    assert _param(at, "sample") == "2" and shuffled != first
    again = open_page("data", dataset="shapes", sample="2")
    assert all_images(again) == shuffled
    again.button(key="data_shuffle").click().run()  # on from the link's sample
    assert _param(again, "sample") == "3"
    bad = open_page("data", dataset="shapes", sample="many")
    assert not bad.exception and all_images(bad) == first
    assert any("Ignored `sample=many` from the link" in w.value for w in bad.warning), [w.value for w in bad.warning]
