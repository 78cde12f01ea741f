"""`.ci/run`, with stand-ins for python3, chromium and df on PATH: it runs exactly the README's
test command in a fresh venv, passes its exit status on, and removes the venv and SSRL_HOME
whether the suite passed or failed (each CI run's 8 GB venv, left in /tmp, once filled the
disk until an install failed with "No space left on device")."""

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _run_ci(tmp_path: Path, suite_status: int, free_kb: int | None = None):
    bin_dir, tmp_dir = tmp_path / "bin", tmp_path / "tmp"
    bin_dir.mkdir()
    tmp_dir.mkdir()
    log = tmp_path / "calls.log"
    # `python3 -m venv DIR` makes DIR/bin/activate, whose pip and python only log their calls
    _stub(bin_dir, "python3", f"""mkdir -p "$3/bin"
cat > "$3/bin/activate" <<'EOS'
pip() {{ echo "pip $* | home=$SSRL_HOME" >> "{log}"; }}
python() {{ echo "python $* | home=$SSRL_HOME | $PYTEST_ADDOPTS" >> "{log}"; return {suite_status}; }}
EOS
""")
    _stub(bin_dir, "chromium", "exit 0\n")
    if free_kb is not None:
        _stub(bin_dir, "df", f'echo "Filesystem 1024-blocks Used Available Capacity Mounted"\n'
                             f'echo "/dev/x 100 99 {free_kb} 99% /"\n')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp_dir)}
    env.pop("SSRL_HOME", None)
    done = subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env, capture_output=True,
                          text=True, timeout=60)
    return done, log.read_text().splitlines(), tmp_dir


def test_ci_runs_the_readme_test_command_in_a_fresh_venv_and_removes_it_after(tmp_path):
    done, calls, tmp_dir = _run_ci(tmp_path, suite_status=0)
    assert done.returncode == 0, done.stderr
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r requirements-dev.txt && python -m pytest" in readme
    assert [c.split(" | ")[0] for c in calls] == ["pip install -r requirements-dev.txt",
                                                  "python -m pytest"]
    home, addopts = calls[1].split("home=")[1].split(" | ")
    assert home.startswith(str(tmp_dir)), "SSRL_HOME must be a fresh folder, not ~/.ssrl_playground"
    assert addopts.startswith(f"--basetemp={tmp_dir}"), "the tests' files go in the folder removed at the end"
    assert list(tmp_dir.iterdir()) == [], "the venv and SSRL_HOME must not outlive the run"


def test_a_failing_suite_fails_ci_and_still_leaves_no_venv_behind(tmp_path):
    done, calls, tmp_dir = _run_ci(tmp_path, suite_status=5)
    assert done.returncode == 5
    assert len(calls) == 2
    assert list(tmp_dir.iterdir()) == []


def test_a_nearly_full_disk_is_named_before_the_install_starts(tmp_path):
    done, calls, tmp_dir = _run_ci(tmp_path, suite_status=0, free_kb=300 * 1024)
    assert "only 300 MB free" in done.stderr and "free some space" in done.stderr
    assert len(calls) == 2, "the warning does not stop the run: pip says what it could not write"
    assert list(tmp_dir.iterdir()) == []


def _requirements(path: Path) -> list[str]:
    """The requirement lines of ``path`` (not its comments, nor its -r and -c lines)."""
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")]


def test_the_constraints_pin_every_requirement_within_its_range():
    """constraints.txt pins what the suite passed with; a range in requirements*.txt moved without
    writing it afresh made pip refuse the install ("ResolutionImpossible") on a newcomer's first
    command. Each requirement this platform asks for is pinned, inside its range."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    pins = {}
    for line in _requirements(ROOT / "constraints.txt"):
        name, _, version = line.partition("==")
        assert version and canonicalize_name(name) not in pins, f"constraints.txt: {line!r} (one name==version a line)"
        pins[canonicalize_name(name)] = Version(version)
    assert "-c constraints.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    asked = [Requirement(r) for f in ("requirements.txt", "requirements-dev.txt") for r in _requirements(ROOT / f)]
    # as on CI's platform, which the file is written on (elsewhere pip ignores the pins it is not asked for)
    linux = {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"}
    asked = [r for r in asked if r.marker is None or r.marker.evaluate(linux)]
    assert {"torch", "streamlit", "pytest", "faiss-gpu"} <= {canonicalize_name(r.name) for r in asked}
    assert "setuptools" in pins  # torch needs it at run time; pip freeze leaves it out unless asked
    for r in asked:
        pin = pins.get(canonicalize_name(r.name))
        assert pin is not None and r.specifier.contains(pin, prereleases=True), \
            f"{r} but constraints.txt pins {r.name}=={pin}: run .ci/update-constraints, then the suite"


def test_update_constraints_pins_what_a_fresh_venv_installs_without_the_old_pins(tmp_path):
    """`.ci/update-constraints` (run in a copy of the project, with python3 and pip stand-ins): the fresh venv installs
    requirements-dev.txt without its `-c constraints.txt` (which would reinstall the old versions), and the file
    written holds its header and what that venv's `pip freeze` says, nothing of the old file."""
    import shutil

    project = tmp_path / "project"
    (project / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "update-constraints", project / ".ci")
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, project)
    (project / "constraints.txt").write_text("numpy==1.0.0\n")
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    real = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True).stdout
    _stub(bin_dir, "python3", f"""if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin"
  cat > "$3/bin/pip" <<'EOS'
#!/bin/sh
if [ "$1" = freeze ]; then echo "numpy==9.9.9"; echo "torch==2.14.1"; exit 0; fi
echo "pip $*" >> "{log}"; for f in "$@"; do [ -f "$f" ] && cat "$f" >> "{log}"; done; exit 0
EOS
  chmod +x "$3/bin/pip"
else exec {real.strip()} "$@"; fi
""")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    done = subprocess.run(["bash", str(project / ".ci" / "update-constraints")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    installed = log.read_text()
    assert installed.startswith("pip install -q -r ") and "-r requirements.txt" in installed
    assert "-c constraints.txt" not in installed and "pytest" in installed
    written = (project / "constraints.txt").read_text()
    assert written.startswith("# The versions the test suite passed with")
    assert _requirements(project / "constraints.txt") == ["numpy==9.9.9", "torch==2.14.1"]
    assert "wrote constraints.txt (2 packages)" in done.stdout
