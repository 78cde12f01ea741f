"""The app served in a child process, for the browser tests and the page benches.

Plain subprocess and HTTP; no Streamlit import here. ``served_app`` starts
``streamlit run app/main.py`` on a free local port, waits for its health endpoint, yields
the URL and stops the server's whole process group afterwards.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"  # Debian's chromium, driven by Playwright
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_app(env: dict, log: IO | int = subprocess.DEVNULL, timeout_s: float = 120.0,
               stop: int = signal.SIGTERM, base_path: str = "") -> Iterator[str]:
    """The app's URL while it is served with environment ``env``; output goes to ``log``.
    Raises RuntimeError when the server does not answer within ``timeout_s``. ``stop``: the
    signal that ends it (SIGKILL where nothing it would do on its way out matters: a test's
    server, whose store is thrown away; SIGTERM's orderly stop takes about a second).
    ``base_path``: served under that path (``server.baseUrlPath``, as behind a proxy), which the
    URL then ends with."""
    port, base_path = free_port(), base_path.strip("/")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.baseUrlPath", base_path],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}" + (f"/{base_path}" if base_path else "")
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the app did not start on {url}") from None
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, stop)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # a script run busy on a loaded machine: stop it the hard way
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(20)


def stop_workers(sig: int = signal.SIGKILL) -> None:
    """Signal the workers of the current SSRL_HOME and, where /proc lists processes' environments
    (Linux), every other ``ssrl_core`` process of that home: what the served app started runs in
    its own sessions, so stopping the server leaves it. A worker still importing holds no slot
    lock yet (one started by the page just before the server stopped was left idle for good),
    and a probe job or the layout compile holds none."""
    from ssrl_core import paths
    from ssrl_core.runs.worker import worker_pids

    pids, home = set(worker_pids()), os.fsencode(paths.home_path())
    for proc in Path("/proc").glob("[0-9]*"):
        try:  # `python -m ssrl_core ...` or `-m ssrl_core.evaluate.jobs ...`, with this home (however it was written)
            if int(proc.name) == os.getpid() or not any(a == b"ssrl_core" or a.startswith(b"ssrl_core.")
                                                        for a in (proc / "cmdline").read_bytes().split(b"\0")):
                continue
            if any(e.startswith(b"SSRL_HOME=") and os.path.abspath(e[10:]) == home
                   for e in (proc / "environ").read_bytes().split(b"\0")):
                pids.add(int(proc.name))
        except OSError:  # ended meanwhile, or another user's
            pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
