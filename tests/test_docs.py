"""The docs are true to the code: every command README.md and docs/*.md show parses.

Every ``python -m ssrl_core ...``, ``python -m bench.NAME ...``, ``python -m streamlit run
...`` and ``python -m pytest ...`` in a Markdown code block or inline code span, and every
inline fragment that starts with a subcommand (`` `probe --run DIR --finetune` ``), is
parsed with the real argparse parser, without running anything. A synopsis is expanded:
``[...]`` groups are tried one at a time on top of the required part, ``a|b`` values one
alternative at a time, ``[--x | --y N]`` one side at a time; placeholders (``DIR``, ``ID``,
``N``: upper-case words) become a value the option accepts; ``...`` and ``<prose>`` mark
elided flags, so the required flags are filled in for those. Every bare inline flag
(`` `--max-epochs N` ``) must be a flag of some command.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import inspect
import io
import re
import shlex
import textwrap
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/design.md", "docs/methods.md", "docs/lessons.md", "docs/performance.md",
        # the commands' own usage: the CLI's docstring, and each bench's, which its --help prints
        "ssrl_core/cli.py", *sorted(f"bench/{f.name}" for f in (ROOT / "bench").glob("*.py") if f.name != "__init__.py")]
SHELL_FENCES = {"", "sh", "bash", "shell", "console"}
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Inline flags the docs name that belong to other programs, not to ours.
FOREIGN_FLAGS = {"--fix-pred-lr"}  # SimSiam's official code (docs/methods.md)


# -- extraction ---------------------------------------------------------------------------

def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def docstring_as_markdown(path: Path) -> str:
    """A module docstring (what `--help` prints for a bench) as Markdown: its indented blocks
    fenced on the blank lines around them, so the lines keep their numbers."""
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""  # clean would dedent the blocks
    lines = doc.replace("``", "`").split("\n")
    i = 0
    while i < len(lines):
        if lines[i].startswith("    ") and i and not lines[i - 1].strip():
            j = i
            while j < len(lines) and lines[j].startswith("    "):
                j += 1
            lines[i - 1] = "```"
            if j < len(lines) and not lines[j].strip():
                lines[j] = "```"
            else:
                lines.insert(j, "```")
            lines[i:j] = textwrap.dedent("\n".join(lines[i:j])).split("\n")
            i = j
        i += 1
    return "\n".join(lines)


def doc_chunks(name: str) -> list[tuple[str, str, bool]]:
    """(where, text, inline) for every shell code block line (continuations joined, comments
    cut) and every inline code span of one Markdown file (or docstring)."""
    text = (ROOT / name).read_text() if name.endswith(".md") else docstring_as_markdown(ROOT / name)
    chunks: list[tuple[str, str, bool]] = []
    lines = text.split("\n")
    outside: list[str] = []  # the text with fenced blocks blanked, for the inline spans
    fence = None
    command_above = None  # the line number of the code block's last command line
    for i, line in enumerate(lines, 1):
        m = re.match(r"^\s*```(\w*)", line)
        if m and fence is None:
            fence = m.group(1).lower()
            outside.append("")
            continue
        if m and fence is not None:
            fence = None
            outside.append("")
            continue
        if fence is None:
            outside.append(line)
            continue
        outside.append("")
        if fence not in SHELL_FENCES:
            continue
        code = re.sub(r"(^|\s+)#.*$", "", line)  # a shell comment
        if line[:1].isspace() and command_above == i - 1:  # an indented continuation of the command above
            where, prev, _ = chunks.pop()
            chunks.append((where, prev + "\n" + code, False))
            command_above = i
        elif code.strip():
            chunks.append((f"{name}:{i}", code, False))
            command_above = i if "python -m" in code else None
    body = "\n".join(outside)
    for m in re.finditer(r"`([^`]+)`", body):
        span = m.group(1)
        if "\n\n" in span:  # an unmatched backtick; spans never cross a paragraph
            continue
        chunks.append((f"{name}:{_line_of(body, m.start())}", span.replace("\n", " "), True))
    return chunks


@lru_cache(maxsize=None)
def ssrl_parser() -> argparse.ArgumentParser:
    from ssrl_core.cli import build_parser
    return strict(build_parser())


def strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """No abbreviated flags: a doc's `--max-epoch` must not pass for `--max-epochs`."""
    parser.allow_abbrev = False
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for p in a.choices.values():
                strict(p)
    return parser


def subparsers() -> dict[str, argparse.ArgumentParser]:
    ap = ssrl_parser()
    return next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction)).choices


@lru_cache(maxsize=None)
def bench_parser(module: str) -> argparse.ArgumentParser:
    return strict(importlib.import_module(module).build_parser())


def doc_commands() -> list[tuple[str, str, str, bool]]:
    """(where, program, arguments, fragment) for every command the docs show."""
    out = []
    subs = set(subparsers())
    for name in DOCS:
        for where, text, inline in doc_chunks(name):
            flat = " ".join(text.split())
            for piece in flat.split("&&"):
                piece = piece.strip()
                m = re.search(r"(?:^|\s)python3? -m ([\w.]+)(.*)$", " " + piece)
                if m:
                    out.append((where, m.group(1), m.group(2).strip(), False))
                    continue
                words = piece.split()
                while words and words[0] == "...":
                    words.pop(0)
                if inline and words and words[0] in subs and any(w.startswith("--") for w in words[1:]):
                    out.append((where, "ssrl_core", " ".join(words), True))
    return out


def inline_flags() -> list[tuple[str, str]]:
    """(where, span) for every inline span that is bare flags, e.g. `--max-epochs N`."""
    return [(where, text) for name in DOCS for where, text, inline in doc_chunks(name)
            if inline and text.startswith("--")]


# -- expansion of a synopsis into concrete argument lists ----------------------------------

def _tokens(args: str) -> list[str]:
    args = re.sub(r"<[^>]*>", " ... ", args)  # <the same flags, without --out>: prose for elided flags
    out = []
    for t in shlex.split(args):
        while t.startswith("[") and len(t) > 1:
            out.append("[")
            t = t[1:]
        tail = 0
        while t.endswith("]") and len(t) > 1:
            t, tail = t[:-1], tail + 1
        out.append(t)
        out.extend("]" * tail)
    return out


def expand(args: str) -> tuple[list[list[str]], bool]:
    """Concrete argument lists for a command or synopsis, and whether flags were elided."""
    toks = _tokens(args)
    items: list = []  # a token, or a group: a list of alternatives, each a list of tokens
    elided = False
    i = 0
    while i < len(toks):
        t = toks[i]
        if t == "[":
            alts, cur = [], []
            i += 1
            while toks[i] != "]":
                if toks[i] == "|":
                    alts.append(cur)
                    cur = []
                elif toks[i] != "...":  # [--option key=value ...]: repeatable
                    cur.append(toks[i])
                i += 1
            alts.append(cur)
            items.append(alts)
        elif t == "...":
            elided = True
        else:
            items.append(t)
        i += 1
    base = [t for t in items if isinstance(t, str)]
    variants = [base]
    for g, group in enumerate(items):
        if isinstance(group, list):
            for alt in group:
                variants.append([t for t in items[:g] if isinstance(t, str)] + alt
                                + [t for t in items[g + 1:] if isinstance(t, str)])
    concrete = []
    for v in variants:  # a|b values: each alternative once
        bars = [k for k, t in enumerate(v) if "|" in t and not t.startswith("-")]
        concrete.append([t.split("|")[0] for t in v])
        for k in bars:
            for alt in v[k].split("|")[1:]:
                concrete.append([alt if j == k else (t.split("|")[0]) for j, t in enumerate(v)])
    return concrete, elided


def _option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {o: a for a in parser._actions for o in a.option_strings}


def fill(argv: list[str], parser: argparse.ArgumentParser, elided: bool, prose: bool = False) -> list[str]:
    """Placeholders -> a value their option takes; with elided flags, the required ones added;
    for flags named in prose (`--option`, `--max-epochs`), their values and positionals too."""
    actions = _option_actions(parser)
    filler = lambda a: str(a.choices[0]) if a is not None and a.choices else "1"  # noqa: E731
    out = []
    for k, t in enumerate(argv):
        if PLACEHOLDER.match(t):
            t = filler(actions.get(argv[k - 1]) if k else None)
        out.append(t)
        a = actions.get(t)
        if prose and a is not None and a.nargs is None and a.option_strings and a.const is None \
                and (k + 1 == len(argv) or argv[k + 1].startswith("-")) and not isinstance(a, argparse._StoreConstAction):
            out.append(filler(a))
    if elided:
        for a in parser._actions:
            if a.required and a.option_strings and not set(a.option_strings) & set(out):
                out += [a.option_strings[0], filler(a)]
    if prose:
        out = [filler(a) for a in parser._actions if not a.option_strings] + out
    return out


def parse_error(parser: argparse.ArgumentParser, argv: list[str]) -> str | None:
    """argparse's complaint about argv, or None when it parses."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser.parse_args(argv)
        except SystemExit as e:
            if e.code:
                return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {e.code}"
    return None


def check(program: str, args: str, fragment: bool) -> list[str]:
    """What is wrong with one documented command (empty when it parses)."""
    problems = []
    if program == "ssrl_core":
        if not args:  # the program named in prose: `python -m ssrl_core` (or `ssrl` ...)
            return []
        sub = args.split()[0]
        if sub not in subparsers():
            return [f"no subcommand {sub!r} (there are: {', '.join(subparsers())})"]
        variants, elided = expand(args)
        named_only = not any(t.startswith("-") for t in args.split())  # `python -m ssrl_core export` in prose
        for v in variants:
            argv = [v[0]] + fill(v[1:], subparsers()[sub], elided or fragment or named_only)
            if (e := parse_error(ssrl_parser(), argv)) is not None:
                problems.append(f"{' '.join(argv)}: {e}")
    elif program.startswith("bench."):
        if importlib.util.find_spec(program) is None:
            return [f"no module {program}"]
        parser = bench_parser(program)
        variants, elided = expand(args)
        for v in variants:
            argv = fill(v, parser, elided)
            if (e := parse_error(parser, argv)) is not None:
                problems.append(f"{' '.join(argv)}: {e}")
    elif program == "streamlit":
        words = args.split()
        if words[:1] != ["run"] or not (ROOT / words[1]).is_file():
            problems.append(f"streamlit {args}: not `run` of a file in the repository")
    elif program == "pytest":
        words = shlex.split(args)
        for k, w in enumerate(words):
            if k and words[k - 1] == "-m":
                unknown = set(re.findall(r"\w+", w)) - {"and", "or", "not"} - registered_markers()
                if unknown:
                    problems.append(f"pytest {args}: no marker {', '.join(sorted(unknown))} in pyproject.toml")
            elif not w.startswith("-") and ("/" in w or w.endswith(".py")) and not (ROOT / w.split("::")[0]).exists():
                problems.append(f"pytest {args}: no {w}")
    elif importlib.util.find_spec(program) is None:
        problems.append(f"no module {program}")
    return problems


def registered_markers() -> set[str]:
    import tomllib
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    return {m.split(":")[0].strip() for m in conf.get("markers", [])}


def all_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser: each subcommand's and each bench script's."""
    parsers = {f"ssrl_core {k}": p for k, p in subparsers().items()}
    for f in sorted((ROOT / "bench").glob("*.py")):
        if f.stem != "__init__":
            parsers[f"bench.{f.stem}"] = bench_parser(f"bench.{f.stem}")
    return parsers


def check_flags(span: str) -> list[str]:
    """What is wrong with bare flags in prose, `--precision float32|bfloat16`: each variant
    must parse (required flags filled in) with some command's parser."""
    if span.split()[0].split("=")[0] in FOREIGN_FLAGS:
        return []
    problems = []
    variants, _ = expand(span)
    for v in variants:
        errors = {name: parse_error(p, fill(v, p, True, prose=True)) for name, p in all_parsers().items()}
        if all(e is not None for e in errors.values()):
            problems.append(f"{' '.join(v)}: no command takes it (e.g. ssrl_core train: {errors['ssrl_core train']})")
    return problems


# -- the tests -----------------------------------------------------------------------------

COMMANDS = doc_commands()


def test_the_docs_show_commands_of_every_kind():
    """The extraction finds what it is meant to (a broken extractor would pass everything)."""
    programs = {p for _, p, _, _ in COMMANDS}
    assert {"ssrl_core", "streamlit", "pytest", "bench.methods_table", "bench.time_to_insight"} <= programs
    assert len(COMMANDS) >= 60
    assert {w.split(":")[0] for w, *_ in COMMANDS} == set(DOCS), "a file in DOCS with no command found"
    subs = {a.split()[0] for _, p, a, _ in COMMANDS if p == "ssrl_core" and a}
    assert set(subparsers()) <= subs, f"a subcommand no doc shows: {set(subparsers()) - subs}"


@pytest.mark.parametrize("where,program,args,fragment", COMMANDS,
                         ids=[f"{w} {p} {a[:40]}" for w, p, a, _ in COMMANDS])
def test_every_documented_command_parses(where, program, args, fragment):
    assert check(program, args, fragment) == [], f"{where}: python -m {program} {args}"


def test_the_readme_s_command_line_synopsis_names_every_flag_of_every_command():
    block = re.search(r"## Command line\n.*?```\n(.*?)```", _text("README.md"), re.S).group(1)
    shown = set(re.findall(r"--[a-z][a-z-]*", block))
    flags = {o for p in subparsers().values() for o in _option_actions(p) if o.startswith("--") and o != "--help"}
    assert flags - shown == set(), "flags README's synopsis leaves out"


def test_the_cli_docstring_shows_every_command_with_its_flags():
    """cli.py's synopsis (its module docstring) left out delete, resume, delete-dataset and
    embed's --device; train and submit show a few of the run's flags (`train --help` has them)."""
    doc = ast.get_docstring(ast.parse((ROOT / "ssrl_core" / "cli.py").read_text()))
    shown = {}
    for line in doc.splitlines():
        if line.strip().startswith("python -m ssrl_core "):
            name, _, rest = line.strip().removeprefix("python -m ssrl_core ").partition(" ")
            shown[name] = shown.get(name, set()) | set(re.findall(r"--[a-z][a-z-]*", rest))
    assert set(subparsers()) - set(shown) == set(), "commands cli.py's docstring leaves out"
    for name, parser in subparsers().items():
        if name in ("train", "submit"):
            continue
        flags = {o for o in _option_actions(parser) if o.startswith("--") and o != "--help"}
        assert flags - shown[name] == set(), f"flags of {name} cli.py's docstring leaves out"


def test_every_flag_named_in_prose_is_a_flag_some_command_takes():
    spans = inline_flags()
    assert len(spans) >= 30
    wrong = [(where, span, problems) for where, span in spans if (problems := check_flags(span))]
    assert wrong == []


@pytest.mark.parametrize("program,args", [
    ("ssrl_core", "train --dataset D --method M --epochs N --out DIR --no-such-flag"),
    ("ssrl_core", "lesson NAME --out DIR [--quick | --max-epoch N]"),
    ("ssrl_core", "probe --run DIR [--target label|FACTOR] [--labels-per-class N] [--finetune-all]"),
    ("ssrl_core", "train --dataset D --method M [--device auto|cpu|tpu] --out DIR"),
    ("ssrl_core", "train --dataset D --method M --epochs many --out DIR"),
    ("ssrl_core", "train --dataset D --method M"),
    ("ssrl_core", "fit --dataset D"),
    ("bench.time_to_insight", "--runs 1 --idle-second 40"),
    ("bench.no_such_bench", ""),
    ("streamlit", "run app/no_such_page.py"),
    ("pytest", "tests/test_no_such_file.py -k launch"),
])
def test_the_check_catches_a_wrong_command(program, args):
    assert check(program, args, fragment=False) != []


def test_a_fragment_may_leave_out_required_flags_but_not_name_a_wrong_one():
    assert check("ssrl_core", "probe --finetune", fragment=True) == []
    assert check("ssrl_core", "probe --fine-tune", fragment=True) != []


def test_a_flag_in_prose_must_exist_with_a_value_it_takes():
    assert check_flags("--max-epochs N") == [] and check_flags("--precision float32|bfloat16") == []
    assert check_flags("--max-epoch N") != [] and check_flags("--precision float32|float8") != []
    assert check("pytest", '-m "not browsers"', fragment=False) != []


# -- claims about behaviour that the code can confirm cheaply --------------------------------

def _text(name: str) -> str:
    return (ROOT / name).read_text()


def _markdown_table(text: str, header: str) -> list[list[str]]:
    """The rows (cells) of the Markdown table whose header line starts with ``header``."""
    lines = text.split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def _ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def _norm(family: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", " ", family.lower()).split()).removesuffix("s")


def test_the_readme_method_table_names_every_method_in_its_family_and_real_options():
    from ssrl_core.models import ENCODERS
    from ssrl_core.pretext import METHODS

    seen = set()
    for family, cell in _markdown_table(_text("README.md"), "| family | methods |"):
        names = [t for t in _ticked(cell) if t in METHODS]
        seen |= set(names)
        for n in names:
            assert _norm(METHODS[n].family) == _norm(family), (n, METHODS[n].family, family)
        for t in _ticked(cell):
            assert t in METHODS or t in ENCODERS or any(t in METHODS[n].defaults for n in names), \
                f"README's method table names `{t}` (row {family!r}): not a method, encoder or option of its methods"
    missing = sorted(set(METHODS) - seen)
    assert not missing, f"README's | family | methods | table does not list {missing}: add each to its family's row"


def test_the_small_set_table_names_options_of_its_methods():
    from ssrl_core.pretext import METHODS

    rows = _markdown_table(_text("README.md"), "| method | refused | warned of")
    assert {_ticked(r[0])[0] for r in rows} <= set(METHODS) and len(rows) >= 4
    for row in rows:
        ticked = [t for cell in row for t in _ticked(cell)]
        methods = [t for t in ticked if t in METHODS]
        for t in ticked:
            if re.fullmatch(r"[a-z_]+", t) and t not in METHODS:
                assert any(t in METHODS[m].defaults for m in methods), f"`{t}` is no option of {methods}"
        m = _ticked(row[0])[0]  # the row's method has the checks the row describes
        assert (row[1].strip() != "") == ("data_conflicts" in vars(METHODS[m])), f"{m}: refused column"
        assert (row[2].strip() != "") == ("data_caveats" in vars(METHODS[m])), f"{m}: warned-of column"
        assert (row[3].strip() != "") == ("sized_defaults" in vars(METHODS[m])), f"{m}: imported set's default column"


def test_every_option_the_docs_set_is_a_method_option():
    from ssrl_core.pretext import METHODS

    options = {k for m in METHODS.values() for k in m.defaults}
    found = []
    for name in DOCS:
        found += [k for k in re.findall(r"--option (\w+)=", (ROOT / name).read_text()) if k != "key"]  # key=value
    found += re.findall(r"options=(\w+)=", _text("README.md"))  # ?options=stop_gradient=false
    assert len(found) >= 5
    assert set(found) <= options, set(found) - options


def test_the_interface_in_methods_md_is_the_base_class():
    from ssrl_core.pretext.base import PretextMethod

    block = re.search(r"```python\n(class PretextMethod.*?)```", _text("docs/methods.md"), re.S).group(1)
    names = re.findall(r"^\s+(\w+)\s*(?::|=)", block, re.M) + re.findall(r"def (\w+)\(", block)
    assert len(names) >= 15
    missing = [n for n in names if not hasattr(PretextMethod, n)]
    assert missing == []


def test_augmentation_presets_ops_and_specs_in_the_docs_are_the_code():
    from ssrl_core.augment import OPS, PRESETS, parse_augment

    readme = _text("README.md")
    line = re.search(r"`--augment` takes a preset \(([^)]*)\)", readme).group(1)
    assert _ticked(line) == list(PRESETS)
    ops = re.search(r"Ops: ((?:`\w+`,?\s*)+)", readme).group(1)
    assert _ticked(ops) == list(OPS), "README's 'Ops:' list (under Command line, --augment) must name OPS in order"
    specs = [t for name in DOCS for t in re.findall(r"`([^`\s]*\([^`\s]*\)[^`\s]*)`", (ROOT / name).read_text())
             if re.fullmatch(r"[a-z_]+(\([a-z_]+=[^)]*\))?(,[a-z_]+(\([a-z_]+=[^)]*\))?)*", t)]  # op(k=v),op
    specs += re.findall(r"augment=([a-z_(),.=0-9]+)`", readme)  # ?augment= in a link
    assert len(specs) >= 4
    for spec in specs:
        parse_augment(spec)  # raises on an op or a strength the code does not have


def test_the_colour_jitter_defaults_are_the_strength_the_docs_reason_with():
    """README: `color_jitter` defaults to SimCLR's CIFAR strength s = 0.5 (hue turned by at
    most 36°), against its ImageNet s = 1 (0.8, 0.8, 0.8 and hue 0.2)."""
    from ssrl_core.augment import OPS

    params = inspect.signature(OPS["color_jitter"]).parameters
    assert {k: params[k].default for k in ("brightness", "contrast", "saturation", "hue")} == \
        {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
    assert f"hue by at most {round(params['hue'].default * 360)}°" in " ".join(_text("README.md").split())


def test_every_environment_variable_the_code_reads_is_documented_and_back():
    code = "\n".join(p.read_text() for d in ("ssrl_core", "app", "pages") for p in (ROOT / d).rglob("*.py"))
    read = set(re.findall(r"(?:environ(?:\.get)?\(|environ\[|getenv\()\s*\"(SSRL_\w+)\"", code))
    read |= set(re.findall(r"^\s*\w+ = \"(SSRL_\w+)\"", code, re.M))  # ENV_DIR = "SSRL_LESSONS_DIR"
    read |= set(re.findall(r"_env_number\(\"(SSRL_\w+)\"", code))
    table = {t for row in _markdown_table(_text("README.md"), "| variable | default | what |") for t in _ticked(row[0])}
    assert read - table == set(), "read by the code, missing from README's table of variables"
    everywhere = code + "\n".join(p.read_text() for d in ("tests", "bench") for p in (ROOT / d).rglob("*.py"))
    named = {v for name in DOCS for v in re.findall(r"\bSSRL_[A-Z_]+[A-Z]\b", (ROOT / name).read_text())}
    assert {v for v in named if v not in everywhere} == set(), "named by the docs, read nowhere"


def test_url_parameters_in_the_readme_are_those_the_pages_read():
    code = "\n".join(p.read_text() for d in ("app", "pages") for p in (ROOT / d).glob("*.py"))
    read = set(re.findall(r"param=\"(\w+)\"|(?:urlstate\.(?:read|write)|listed)\(\"(\w+)\"|"
                          r"urlstate\.(?:start|keep)\([^,]+, \"(\w+)\"|"
                          r"query_params(?:\.get|\.pop)?[\[(]\"(\w+)\"", code))
    read = {n for group in read for n in group if n}
    rows = _markdown_table(_text("README.md"), "| page | parameters")
    listed = {t.split("=")[0] for _, cell in rows for t in _ticked(cell)
              if re.fullmatch(r"[a-z_]+", t.split("=")[0]) and not t.startswith("method=")}
    from app.urlstate import PARTS

    every_page = next(cell for page, cell in rows if page == "every page")
    assert set(PARTS) <= set(_ticked(every_page)), "a part ?hide= takes that README does not name"
    hide_parts = set(PARTS) | {"label", "digits", "shapes"}  # values, not parameters
    assert read <= listed, f"read by a page, not in README's table: {read - listed}"
    assert listed - hide_parts <= read, f"in README's table, read by no page: {listed - hide_parts - read}"


def test_page_titles_and_paths_in_the_readme_are_the_app_s():
    main = _text("app/main.py")
    pages = dict(re.findall(r"title=\"(\w+)\".*?url_path=\"(\w+)\"", main))
    pages.update({t: "" for t in re.findall(r"title=\"(\w+)\"[^\n]*default=True", main)})
    rows = _markdown_table(_text("README.md"), "| page | what you do there |")
    listed = {re.search(r"\*\*(\w+)\*\*", r[0]).group(1): re.search(r"\(`/(\w*)`\)", r[0]).group(1) for r in rows}
    assert listed == pages


def test_the_files_readme_lists_under_ssrl_home_are_written_by_the_code():
    block = re.search(r"```\nSSRL_HOME/\n(.*?)```", _text("README.md"), re.S).group(1)
    names = set(re.findall(r"[\w<>-]+\.(?:json|jsonl|npy|faiss|safetensors|lock|log|sqlite|zip|starting)\b", block))
    assert len(names) >= 15
    code = "\n".join(p.read_text() for d in ("ssrl_core", "app") for p in (ROOT / d).rglob("*.py"))
    missing = []
    for n in names:
        stem = re.escape(n).replace("N", r"(?:\{\w+\}|N)").replace("<id>", r".*")
        if not re.search(rf"[\"'/]{stem}[\"']", code):
            missing.append(n)
    assert missing == []


def test_every_default_a_help_text_prints_is_the_real_default():
    """`--steps STEPS  timed steps per measurement (default 20)`: 20 must be what argparse gives."""
    compared = 0
    for name, parser in all_parsers().items():
        for a in parser._actions:
            for said in re.findall(r"\(default:? ([^\s;)]+)\)", a.help or ""):
                if a.default is None:
                    continue  # described in words: "(default: the dataset's preset)"
                compared += 1
                same = float(said) == float(a.default) if isinstance(a.default, (int, float)) else said == str(a.default)
                assert same, f"{name} {a.option_strings[0]}: help says default {said}, argparse's is {a.default!r}"
    assert compared >= 20


def test_the_docs_give_a_classroom_limit_its_own_exit_status():
    """A submit or resume refused by a classroom limit exits ``LIMIT_EXIT`` (4), which a sweep
    tells from a refused run's 2; docs/design.md said 2."""
    from ssrl_core.cli import LIMIT_EXIT

    said = []
    for doc in ("README.md", "docs/design.md"):
        text = " ".join((ROOT / doc).read_text().split())
        said += [(doc, m.group(0)) for m in re.finditer(
            r"(?:LimitReached|classroom limit|which limit)[^;]{0,120}?exit \d+|exit \d+ when a classroom limit", text)]
    assert len(said) >= 3, said  # README's two, design.md's one
    wrong = [(doc, s) for doc, s in said if int(re.search(r"exit (\d+)", s).group(1)) != LIMIT_EXIT]
    assert not wrong, wrong
