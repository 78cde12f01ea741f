"""pyflakes over every Python file of the project: a name used but never defined (an error
path that would raise NameError only when it is taken), an import left unused, a variable
assigned and never read. Under a second."""
import io
from pathlib import Path

from pyflakes.api import checkPath
from pyflakes.reporter import Reporter

ROOT = Path(__file__).resolve().parents[1]


def test_pyflakes_finds_nothing():
    out = io.StringIO()
    files = sorted(p for d in ("ssrl_core", "app", "pages", "bench", "tests") for p in (ROOT / d).rglob("*.py"))
    assert len(files) > 50
    found = sum(checkPath(str(p), Reporter(out, out)) for p in files)
    assert found == 0, out.getvalue()


def test_pages_end_early_with_widgets_stop_not_st_stop():
    """After ``st.stop()`` every use of session state raises again, so ``app/main.py``'s steps
    after a page (remembering its address, repeating a link's warnings, ending Pretrain's
    note) would be skipped on the page that stopped; ``widgets.stop`` ends it and lets them run.
    (main.py itself stops before any page runs when SSRL_HOME is unusable.)"""
    found = [f"{p.relative_to(ROOT)}:{i}" for d in ("app", "pages") for p in sorted((ROOT / d).rglob("*.py"))
             if p.name != "main.py" for i, line in enumerate(p.read_text().splitlines(), 1) if "st.stop()" in line
             and not line.lstrip().startswith(('"', "#")) and "``st.stop()``" not in line]
    assert not found, found
