"""Bad input on every surface (links, the command line, files a user hands in): a message
that says what was wrong and what to do, never a traceback, nothing lost or misplaced."""
import json

from ssrl_core.config import RunConfig
from ssrl_core.runs.store import RunStore

from .test_app import open_page


def _warnings(at) -> str:
    return " ".join(w.value for w in at.warning)


# -- links -----------------------------------------------------------------------------------

def test_a_link_naming_a_run_twice_shows_it_once(finished_run):
    a, b = finished_run("random"), finished_run("random")
    for hide in ("", "controls"):  # the box, and a teacher's link without one
        at = open_page("compare", runs=f"{a},{a},{b}", **({"hide": hide} if hide else {}))
        assert not at.exception
        if not hide:
            assert at.multiselect(key="cmp_runs").value == [a, b]
        assert at.query_params["runs"] == f"{a},{b}"


def test_a_links_bad_run_ids_are_named_with_why_and_its_good_ones_kept(finished_run):
    a, b = finished_run("random"), finished_run("random")
    queued = RunStore().submit(RunConfig(dataset="digits", method="simclr", epochs=1))
    at = open_page("compare", runs=f"{a},nope,{queued},{b}")
    assert at.multiselect(key="cmp_runs").value == [a, b]  # the runs that can be shown still are
    said = _warnings(at)
    assert "nope" in said and "no run has that id" in said
    assert queued in said and "queued" in said  # not "unknown": it will be there when done
    at = open_page("explore", run=queued)
    assert "queued" in _warnings(at) and queued in _warnings(at)
