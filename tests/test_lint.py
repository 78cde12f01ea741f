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
