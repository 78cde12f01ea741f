"""The Ray backend against a real local Ray instance: runs execute as Ray tasks in a folder
on the "node" (its own SSRL_HOME), and their events, checkpoints and files come back to
the host's store and run folder; a killed task resumes from the last epoch; cancel and
failures end with the local worker's reasons; hostile bytes are never unpacked.

One Ray instance (2 CPUs, 127.0.0.1 only) and one dispatcher process serve the module."""
from __future__ import annotations

import importlib.util
import io
import os
import secrets
import shutil
import signal
import socket
import stat
import zipfile
from pathlib import Path

import pytest

from ssrl_core.config import RunConfig
from ssrl_core.data.custom import ArchiveRejected
from ssrl_core.runs import artifacts as art
from ssrl_core.runs.ray_backend import pack, unpack
from ssrl_core.runs.store import FINISHED, RunStore

from .conftest import ROOT
from .test_worker import _remove, _wait

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="ray is not installed: pip install -r requirements.txt")


def _import_tiny(home: Path, mp) -> Path:
    """200 digits (20 per class) imported as dataset 'tiny' into HOME: a set small enough that
    a whole run, evaluation included, takes seconds. Returns the dataset's folder."""
    from PIL import Image

    from ssrl_core.data import load_dataset
    from ssrl_core.data.custom import custom_root, import_images

    mp.setenv("SSRL_HOME", str(home))  # first: digits loaded before it made ~/.ssrl_playground/data (a module's
    ds = load_dataset("digits")  # fixture, outside the tests' own SSRL_HOME)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for c in range(10):
            for i, row in enumerate((ds.labels == c).nonzero().flatten()[:20].tolist()):
                png = io.BytesIO()
                Image.fromarray(ds.images[row, 0].numpy(), "L").save(png, format="PNG")
                zf.writestr(f"{c}/{i}.png", png.getvalue())
    import_images(io.BytesIO(buf.getvalue()), "tiny", size=32)
    return custom_root() / "tiny"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray instance whose workers see their own SSRL_HOME (the "node"), and the
    dispatcher the app starts for the host's SSRL_HOME, connected through RAY_ADDRESS."""
    root = tmp_path_factory.mktemp("ray")
    host, node = root / "host", root / "node"
    with pytest.MonkeyPatch.context() as mp:
        tiny = _import_tiny(host, mp)
        shutil.copytree(tiny, node / "data" / "custom" / "tiny")  # imported data must be copied to the nodes
        shutil.copytree(tiny, host / "data" / "custom" / "hostonly")  # ... this one is not
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray listens on 127.0.0.1 only
        mp.setenv("RAY_AUTH_MODE", "token")  # a token in the environment: nothing written to ~/.ray
        mp.setenv("RAY_AUTH_TOKEN", secrets.token_hex(32))
        mp.setenv("SSRL_HOME", str(node))  # Ray's worker processes inherit it
        import ray

        ctx = ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, _node_ip_address="127.0.0.1",  # as this one
                       logging_level="WARNING")  # on any machine: a GPU's would change every run's slot
        address = ctx.address_info["gcs_address"]
        assert address.startswith("127.0.0.1:")
        # the app's way: SSRL_BACKEND=ray makes ensure_worker start the dispatcher (detached)
        from app import services

        mp.setenv("SSRL_HOME", str(host))
        mp.setenv("PYTHONPATH", str(ROOT))
        mp.setenv("SSRL_BACKEND", "ray")
        mp.setenv("RAY_ADDRESS", address)
        mp.setenv("SSRL_RAY_CPUS_PER_RUN", "1")  # two runs at once on the 2-CPU instance
        mp.delenv("SSRL_NO_AUTOSTART", raising=False)
        started = services.ensure_worker()
        pid = None
        try:
            _wait(lambda: (host / "dispatcher.log").exists() and "serving" in (host / "dispatcher.log").read_text(),
                  60, "the dispatcher to connect")
            pid = int((host / "dispatcher.lock").read_text())
            yield {"host": host, "node": node, "address": address, "started": started, "pid": pid}
        finally:
            if pid is None:
                pid = int((host / "dispatcher.lock").read_text() or 0)
            if pid:
                os.killpg(pid, signal.SIGTERM)
                _wait(lambda: not Path(f"/proc/{pid}").exists() or "zombie" in _proc_state(pid), 150,
                      "the dispatcher to stop")
            ray.shutdown()
        if pid:  # stopped by SIGTERM, it says so in its log (the operator's log ended with Ray's lines)
            assert f"dispatcher ray:{socket.gethostname()}:{pid} stopping" in (host / "dispatcher.log").read_text()


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


@pytest.fixture
def host(cluster, monkeypatch) -> Path:
    monkeypatch.setenv("SSRL_HOME", str(cluster["host"]))
    return cluster["host"]


def _ended(store, *ids, timeout=120):
    _wait(lambda: all(store.get(i)["status"] in FINISHED for i in ids), timeout, f"runs {ids} to end")
    return [store.get(i) for i in ids]


@needs_ray
def test_failures_end_with_reasons_that_say_where_the_data_must_be(host):
    store = RunStore()
    missing = store.submit(RunConfig(dataset="cifar10", method="random"))  # no files on the node
    hostonly = store.submit(RunConfig(dataset="hostonly", method="random"))  # imported on the host only
    a, b = _ended(store, missing, hostonly)
    assert abs(a["started"] - b["started"]) < 2  # the cluster takes two runs at once
    assert a["status"] == "failed" and a["error"].startswith("dataset missing") and "CIFAR-10" in a["error"]
    assert "must exist on every node" in a["error"]
    assert b["status"] == "failed" and b["error"].startswith("dataset missing")
    assert "copy SSRL_HOME/data/custom/hostonly" in b["error"] and "every Ray node" in b["error"]


@needs_ray
def test_cancel_reaches_the_task_and_what_it_made_comes_back(host):
    store = RunStore()
    rid = store.submit(RunConfig(dataset="tiny", method="rotation", encoder="cnn-small", epochs=500, batch_size=32))
    _wait(lambda: store.get(rid)["phase"] == "training", 120, "training to start")
    store.request_cancel(rid)
    (run,) = _ended(store, rid, timeout=30)  # the 500 epochs would take minutes
    assert run["status"] == "cancelled" and "cancelled at epoch" in run["error"], run["error"]
    run_dir = Path(run["run_dir"])
    assert (run_dir / "snapshots" / "e00000.npy").exists()  # made on the node before training, sent at the end
    assert run["epoch"] < 500


@needs_ray
def test_a_run_executes_on_a_node_comes_back_whole_and_survives_losing_its_worker(host, cluster):
    store = RunStore()
    rid = store.submit(RunConfig(dataset="tiny", method="simclr", encoder="cnn-small", epochs=2, batch_size=32),
                       nickname="ada")
    run_dir = Path(store.get(rid)["run_dir"])
    _wait(lambda: (run_dir / "checkpoint.safetensors").exists(), 120, "the first epoch's checkpoint on the host")
    first = store.events(rid, kind="placement")[0]
    os.kill(first["pid"], signal.SIGKILL)  # the Ray worker process running the task dies mid-run
    (run,) = _ended(store, rid)
    assert run["status"] == "done", run["error"]
    assert run["attempts"] == 2 and run["summary"]["epochs"] == 2
    requeued = store.events(rid, kind="requeued")
    assert len(requeued) == 1 and "worker process was lost" in requeued[0]["reason"]
    resumed = store.events(rid, kind="resumed")
    assert len(resumed) == 1 and resumed[0]["epoch"] >= 1  # from the checkpoint the host had, not from scratch
    # it ran in a folder of the node's own SSRL_HOME, removed afterwards ...
    places = store.events(rid, kind="placement")
    assert len(places) == 2
    for p in places:
        assert Path(p["folder"]).parent == cluster["node"] / "ray-runs" and not Path(p["folder"]).exists()
    # ... and everything it wrote is in the host's run folder and store
    a = art.RunArtifacts(run_dir)
    assert a.summary == run["summary"] and a.summary["knn_accuracy"] > 0.3
    coords, kind = a.map()
    assert kind == "umap" and coords.shape == (200, 2)
    assert len(a.neighbours(0, k=5)) == 5
    assert [e["epoch"] for e in a.epochs()] == [0, 1, 2]  # the record of the epoch before the loss is kept
    assert a.probes and a.references()  # the probes and the shared references came back too
    # who queued it, for restore-runs should the store be lost
    assert art.read_json(run_dir / art.SUBMITTED) == {"nickname": "ada", "created": store.get(rid)["created"]}
    assert [e["epoch"] for e in store.events(rid, kind="epoch_end")][-1] == 2


@needs_ray
def test_a_run_past_the_disk_budget_stops_on_the_node_and_fails_saying_so(cluster, tmp_path, monkeypatch):
    """SSRL_RUN_DISK_MB guards the host's disk under Ray too: the dispatcher sizes the run
    folder after every archive it unpacks. A dispatcher of its own (in this process, on its
    own store, so the module's dispatcher never sees the run) with a 0.05 MB budget."""
    import ray

    from ssrl_core.runs.ray_backend import CancelBoard, Dispatcher, _Flight, run_task
    from ssrl_core.runs.store import Limits

    monkeypatch.setenv("SSRL_HOME", str(tmp_path / "home"))
    shutil.copytree(cluster["host"] / "data" / "custom" / "tiny", tmp_path / "home" / "data" / "custom" / "tiny")
    store = RunStore()
    rid = store.submit(RunConfig(dataset="tiny", method="simclr", encoder="cnn-small", epochs=50, batch_size=32))
    d = Dispatcher(store=store, cpus_per_run=1, limits=Limits(run_disk_mb=0.05))
    d.board = ray.remote(num_cpus=0)(CancelBoard).remote()
    d._task = ray.remote(max_retries=0)(run_task)
    d._drive(_Flight(store.claim(d.id)))
    run = store.get(rid)
    assert run["status"] == "failed" and run["error"].startswith("disk budget exceeded"), run["error"]
    assert "SSRL_RUN_DISK_MB" in run["error"] and run["epoch"] < 50  # stopped, not trained to the end
    assert (Path(run["run_dir"]) / "checkpoint.safetensors").exists()  # what it wrote is kept


@needs_ray
def test_a_run_fails_for_lost_nodes_only_after_three_losses_since_it_was_last_resumed(cluster, tmp_path, monkeypatch):
    """Every claim counted: a run cancelled and resumed, then put back by a stopped dispatcher,
    failed "lost ... 3 times" at its first lost node, and said to resubmit it, though it could
    resume (a Ray operator's review). A dispatcher of its own, on its own store."""
    import threading

    import ray

    from ssrl_core.runs.ray_backend import LOST, CancelBoard, Dispatcher, _Flight, run_task

    monkeypatch.setenv("SSRL_HOME", str(tmp_path / "home"))
    shutil.copytree(cluster["host"] / "data" / "custom" / "tiny", tmp_path / "home" / "data" / "custom" / "tiny")
    store = RunStore()
    rid = store.submit(RunConfig(dataset="tiny", method="simclr", encoder="cnn-small", epochs=50, batch_size=32))
    d = Dispatcher(store=store, cpus_per_run=1)
    d.board = ray.remote(num_cpus=0)(CancelBoard).remote()
    d._task = ray.remote(max_retries=0)(run_task)

    def lose_its_node():
        f = _Flight(store.claim(d.id))
        driving = threading.Thread(target=d._drive, args=(f,))
        driving.start()
        _wait(lambda: len(store.events(rid, kind="placement")) > placed, 120, "the task to start")
        os.kill(store.events(rid, kind="placement")[-1]["pid"], signal.SIGKILL)
        driving.join(120)
        return store.get(rid)

    for reason in ("the Ray dispatcher stopped", "the Ray dispatcher stopped"):  # claimed twice, lost nothing
        store.claim(d.id)
        store.requeue(rid, d.id, reason)
    placed = 0
    run = lose_its_node()
    assert run["status"] == "queued" and run["attempts"] == 3, run["error"]  # its third claim, its first loss
    store.claim(d.id)
    store.requeue(rid, d.id, f"{LOST} (WorkerCrashedError)")  # its second
    placed = 1
    run = lose_its_node()
    assert run["status"] == "failed" and run["error"].startswith(
        f"{LOST} (WorkerCrashedError), 3 times since it was last resumed: check the cluster's nodes"), run["error"]
    assert f"python -m ssrl_core resume {rid}" in run["error"]


@needs_ray
def test_runs_asking_for_more_cpus_than_any_node_has_stay_queued_saying_why(host, capsys):
    """SSRL_RAY_CPUS_PER_RUN=1000 on a 2-CPU cluster: the run said "running" for ever while
    Ray waited for a node that does not exist."""
    from ssrl_core.runs.ray_backend import Dispatcher

    assert Dispatcher(cpus_per_run=1000).slots()[0] == 0
    assert ("no run can start: each asks for 1000 CPUs, and no node of the cluster has as many (the most a node has: 2)"
            in capsys.readouterr().out)
    assert Dispatcher(cpus_per_run=1).slots() == (2, {"num_cpus": 1})
    assert Dispatcher(cpus_per_run=0.5).slots()[0] == 4


@needs_ray
def test_without_a_cpus_per_run_setting_a_run_takes_two_cpus_of_a_node_without_a_gpu(host, monkeypatch):
    from ssrl_core.runs.ray_backend import Dispatcher

    monkeypatch.delenv("SSRL_RAY_CPUS_PER_RUN", raising=False)
    assert Dispatcher().slots() == (1, {"num_cpus": 2})  # the 2-CPU instance: one run at a time


@needs_ray
def test_the_app_starts_the_dispatcher_instead_of_a_local_worker(host, cluster, monkeypatch):
    from app import services
    from ssrl_core.runs import ray_backend, worker

    monkeypatch.setenv("SSRL_BACKEND", "ray")
    assert cluster["started"] and ray_backend.dispatcher_alive() and not worker.worker_alive()
    assert services.worker_alive()
    log = (host / "dispatcher.log").read_text()
    assert f"on {cluster['address']}: 2 runs at once" in log  # RAY_ADDRESS and the CPUs per run reached it


@needs_ray
def test_a_cluster_that_does_not_answer_is_said_in_seconds_and_a_lost_dispatchers_runs_go_back(tmp_path, monkeypatch):
    """ray.init retried an unreachable head for ever (3 min and on in a review), holding the
    home's lock, so that no other dispatcher could start; the run of the dispatcher that died
    when its cluster went away said "training" all the while."""
    import socket
    import time

    from ssrl_core.runs.ray_backend import Dispatcher, dispatcher_alive

    monkeypatch.setenv("SSRL_HOME", str(tmp_path))
    store = RunStore()
    rid = store.submit(RunConfig(method="simclr", epochs=3))
    assert store.claim(f"ray:{socket.gethostname()}:999999")["id"] == rid  # its dispatcher is gone
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    started = time.monotonic()
    # refused at once: not "nothing answered within 10 s", said after 0.7 s
    with pytest.raises(RuntimeError, match=rf"cannot connect to the Ray cluster at RAY_ADDRESS=127.0.0.1:{port}: "
                                           r"the connection failed \(Connection refused\)"):
        Dispatcher(store=store, address=f"127.0.0.1:{port}").serve()
    assert time.monotonic() - started < 30 and not dispatcher_alive()  # said at once; the lock let go
    run = store.get(rid)
    assert run["status"] == "queued" and store.events(rid, kind="requeued")[0]["reason"] == "its worker stopped"
    with pytest.raises(RuntimeError, match="RAY_ADDRESS='10.0.0.5' is not HOST:PORT"):
        Dispatcher(store=store, address="10.0.0.5").serve()


@needs_ray
def test_an_idle_dispatcher_whose_home_is_deleted_stops_and_makes_nothing_there_again(ssrl_home, monkeypatch, capsys):
    """As an idle worker (``test_a_worker_whose_home_is_deleted_stops_and_makes_nothing_there_again``): deleting
    SSRL_HOME left the dispatcher polling the path for ever, making an empty store there. (No cluster: it would
    send nothing.)"""
    import threading

    from ssrl_core.runs.ray_backend import Dispatcher

    d = Dispatcher(poll_s=0.05)
    monkeypatch.setattr(d, "connect", lambda: None)
    monkeypatch.setattr(d, "slots", lambda: (1, {"num_cpus": 1}))
    timers = [threading.Timer(1.0, _remove, [ssrl_home]), threading.Timer(60, d._stop.set)]  # (or it hangs)
    sigterm = signal.getsignal(signal.SIGTERM)  # serve sets its own
    try:
        for t in timers:
            t.start()
        assert d.serve() == 1
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        for t in timers:
            t.cancel()
    assert not ssrl_home.exists()
    said = capsys.readouterr().out
    assert "was removed or replaced (SSRL_HOME deleted or moved?); stopping" in said, said


def _serve_until_sigterm(d, monkeypatch, after_s: float = 1.0, **stubs) -> int:
    """``d.serve()`` with no cluster (``connect`` does nothing, one slot, each run in flight until
    the dispatcher stops; ``stubs`` replace any of these or others of ``d``), stopped by a SIGTERM
    to this process after ``after_s``, waiting at most 0.5 s for its loop and for Ray."""
    import threading

    from ssrl_core.runs import ray_backend

    for name, stub in {"connect": lambda: None, "slots": lambda: (1, {"num_cpus": 1}),
                       "_drive": lambda f: d._stop.wait(60), **stubs}.items():
        monkeypatch.setattr(d, name, stub)
    monkeypatch.setattr(ray_backend, "STOP_GRACE_S", 0.5)
    timer = threading.Timer(after_s, os.kill, [os.getpid(), signal.SIGTERM])
    sigterm = signal.getsignal(signal.SIGTERM)  # serve sets its own
    try:
        timer.start()
        return d.serve()
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        timer.cancel()


@needs_ray
def test_a_dispatcher_stuck_in_a_ray_call_still_stops_on_sigterm_and_puts_its_run_back(ssrl_home, monkeypatch,
                                                                                         capsys):
    """ray.nodes() with the cluster's head gone waits a minute, then Ray ends the process. The loop
    called it in the main thread, where Python runs a signal's handler only between two steps:
    SIGTERM went unheard, and the dispatcher died without putting its runs back (their rows said
    "training" until another one took them as orphans). A call that blocks stands in for it."""
    import threading

    from ssrl_core.runs.ray_backend import Dispatcher

    store = RunStore()
    rid = store.submit(RunConfig(method="simclr", epochs=3))
    d = Dispatcher(store=store, poll_s=0.05)
    calls, answered = [], threading.Event()

    def slots():  # the banner's and the first loop's calls answer; then the cluster is gone
        calls.append(1)
        if len(calls) > 2:
            answered.wait(60)
        return 1, {"num_cpus": 1}

    try:
        assert _serve_until_sigterm(d, monkeypatch, slots=slots) == 0
        assert not answered.is_set() and len(calls) == 3  # stopped while the call still waited
    finally:
        answered.set()
    said = capsys.readouterr().out
    assert f"dispatcher {d.id} stopping: 1 run put back in the queue" in said, said
    assert store.get(rid)["status"] == "queued"
    assert store.events(rid, kind="requeued")[-1]["reason"] == "the Ray dispatcher stopped"


@needs_ray
def test_a_run_claimed_while_the_dispatcher_stops_goes_back_to_the_queue(ssrl_home, monkeypatch, capsys):
    """Stopping puts back the runs in flight when it looks at them; a claim that was under way
    then (a busy database, a loop thread past its wait) became a flight after that look, and its
    run said "training" under a dispatcher that was gone, until another one took it as an orphan."""
    import threading

    from ssrl_core.runs.ray_backend import Dispatcher

    store = RunStore()
    rid = store.submit(RunConfig(method="simclr", epochs=3))
    d = Dispatcher(store=store, poll_s=0.05)
    wound, claim = threading.Event(), store.claim

    def slow_claim(worker):  # still claiming when the stop put back what was in flight
        wound.wait(60)
        return claim(worker)

    def wind_down(_original=d._wind_down):
        _original()
        wound.set()

    monkeypatch.setattr(store, "claim", slow_claim)
    try:
        assert _serve_until_sigterm(d, monkeypatch, after_s=0.5, _wind_down=wind_down) == 0
    finally:
        wound.set()
    for t in threading.enumerate():  # the loop, which finishes its claim after serve returned
        if t.name == "dispatch":
            t.join(30)
    assert store.get(rid)["status"] == "queued", store.get(rid)
    assert store.events(rid, kind="requeued")[-1]["reason"] == "the Ray dispatcher stopped"
    assert f"dispatcher {d.id}: run {rid} put back in the queue" in capsys.readouterr().out


@needs_ray
def test_a_dispatcher_that_cannot_put_its_runs_back_still_leaves_ray_and_says_which(ssrl_home, monkeypatch, capsys):
    """Its home deleted under runs in flight: putting them back raised inside the stop, which then
    skipped leaving Ray (and the bound on waiting for it: a cluster whose head was gone hung the
    process in Ray's exit hooks). Ray stands in: the process's own is the module's cluster."""
    import ray

    from ssrl_core.runs.ray_backend import Dispatcher

    store = RunStore()
    rid = store.submit(RunConfig(method="simclr", epochs=3))
    d = Dispatcher(store=store, poll_s=0.05)
    left = []

    def gone(*args, _requeue=store.requeue):
        if d._stop.is_set():  # deleted as it stopped
            raise FileNotFoundError(f"{store.path} (SSRL_HOME deleted)")
        return _requeue(*args)

    monkeypatch.setattr(store, "requeue", gone)
    monkeypatch.setattr(ray, "shutdown", lambda: left.append(True))
    assert _serve_until_sigterm(d, monkeypatch, connect=lambda: setattr(d, "board", "a board")) == 0
    assert left == [True]
    said = capsys.readouterr().out
    assert f"dispatcher {d.id}: run {rid} could not be put back in the queue: " in said and "stopping" in said, said


def test_the_app_says_why_the_dispatcher_stopped_and_refuses_its_bad_settings_before_starting_it(monkeypatch):
    """A bad SSRL_RAY_CPUS_PER_RUN was in dispatcher.log only, and the page said "No worker";
    a dispatcher that could not reach its cluster was started again on every page view."""
    from ssrl_core.paths import ssrl_home
    from ssrl_core.runs import ray_backend

    from .test_app import open_page

    spawned = []
    monkeypatch.setattr(ray_backend, "spawn_detached", lambda *a, **k: spawned.append(a))
    monkeypatch.setenv("SSRL_BACKEND", "ray")
    monkeypatch.delenv("SSRL_NO_AUTOSTART", raising=False)
    RunStore().submit(RunConfig(method="simclr", epochs=3))
    monkeypatch.setenv("SSRL_RAY_CPUS_PER_RUN", "two")
    at = open_page("pretrain")
    assert any("No worker started: SSRL_RAY_CPUS_PER_RUN must be a number above 0" in e.value for e in at.error)
    assert not spawned
    monkeypatch.setenv("SSRL_RAY_CPUS_PER_RUN", "1")
    open_page("pretrain")
    open_page("explore")
    assert len(spawned) == 1  # one start, not one per page view while it connects (or fails to)
    (ssrl_home() / "dispatcher.log").write_text(
        "connecting to the Ray cluster at RAY_ADDRESS=10.0.0.5:6379\n"
        "error: cannot connect to the Ray cluster at RAY_ADDRESS=10.0.0.5:6379: nothing answered there within 10 s\n")
    at = open_page("pretrain")
    assert any(w.value.replace("\\", "").startswith("No Ray dispatcher is running, so queued runs wait. The last one stopped: cannot "
                                  "connect to the Ray cluster at RAY_ADDRESS=10.0.0.5:6379") for w in at.warning), \
        [w.value for w in at.warning]


def test_a_bad_backend_name_says_what_to_set(monkeypatch):
    from ssrl_core.runs.ray_backend import backend

    monkeypatch.setenv("SSRL_BACKEND", "slurm")
    with pytest.raises(ValueError, match="SSRL_BACKEND='slurm' is not a backend: set it to 'local'"):
        backend()


def _zip(members: dict[str, bytes], link: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


@pytest.mark.parametrize("members, link, why", [
    ({"/tmp/evil.txt": b"x"}, None, "absolute path"),
    ({"ok.txt": b"x", "../evil.txt": b"x"}, None, "climbs out"),
    ({"snapshots/../../evil.txt": b"x"}, None, "climbs out"),
    ({"C:\\evil.txt": b"x"}, None, "absolute path"),
    ({"ok.txt": b"x"}, "snapshots/link", "is a link"),
])
def test_unpacking_refuses_hostile_archives_and_writes_nothing(tmp_path, members, link, why):
    dest = tmp_path / "runs" / "r1"
    dest.mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ArchiveRejected, match=why):
        unpack(_zip(members, link), dest)
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere
    with pytest.raises(ArchiveRejected, match="not a zip"):
        unpack(b"\x00not a zip at all", dest)


def test_run_folders_travel_as_changed_files_only(tmp_path):
    src, dst = tmp_path / "node", tmp_path / "host"
    (src / "snapshots").mkdir(parents=True)
    (src / "checkpoint.safetensors").write_bytes(b"epoch 1")
    (src / "snapshots" / "e00000.npy").write_bytes(b"rows")
    (src / "metrics.json.tmp123").write_bytes(b"half written")  # never sent
    sent: dict = {}
    assert sorted(unpack(pack(src, sent), dst)) == ["checkpoint.safetensors", "snapshots/e00000.npy"]
    assert pack(src, sent) is None  # nothing new
    (src / "checkpoint.safetensors").write_bytes(b"epoch 2, longer")
    assert unpack(pack(src, sent), dst) == ["checkpoint.safetensors"]
    assert (dst / "checkpoint.safetensors").read_bytes() == b"epoch 2, longer"
    assert sorted(p.name for p in dst.rglob("*")) == ["checkpoint.safetensors", "e00000.npy", "snapshots"]


def test_locks_markers_half_unpacked_files_and_links_stay_on_the_node(tmp_path):
    """What a run folder holds beside its results never travels: a lock or a pending mark sent
    back replaced the host's own (a job's lock swapped under it by ``os.replace``), a
    ``.partPID`` file is one being unpacked, and a link's target is not the run's."""
    src, dst = tmp_path / "node", tmp_path / "host"
    (src / "snapshots").mkdir(parents=True)
    (src / "summary.json").write_text("{}")
    (src / "probe_job.lock").write_text("")
    (src / "probe_job.pending").write_text("")
    (src / "snapshots" / "e00001.npy.part4242").write_bytes(b"half")
    (tmp_path / "secret.txt").write_text("not the run's")
    (src / "notes.txt").symlink_to(tmp_path / "secret.txt")
    assert unpack(pack(src), dst) == ["summary.json"]
    assert sorted(p.name for p in dst.rglob("*")) == ["summary.json"]


def test_unpacking_refuses_a_member_a_link_in_the_run_folder_would_carry_outside_it(tmp_path):
    dest = tmp_path / "runs" / "r1"
    dest.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (dest / "snapshots").symlink_to(outside)  # a folder replaced by a link to somewhere else
    with pytest.raises(ArchiveRejected, match="would be written outside the run folder"):
        unpack(_zip({"summary.json": b"{}", "snapshots/e00000.npy": b"rows"}), dest)
    assert not list(outside.iterdir()) and not (dest / "summary.json").exists()  # nothing written anywhere


def test_the_reference_results_a_node_sends_back_land_each_under_its_own_key():
    from ssrl_core.evaluate.suite import reference_cache
    from ssrl_core.runs.ray_backend import merge_references

    cfg = RunConfig(dataset="digits", method="simclr", encoder="cnn-small")
    sent = {"random/knn": 0.31, "random/linear": 0.42, "supervised-scratch/label/1/s3/t200": {"mean": 0.5}}
    merge_references(cfg.to_dict(), sent)
    assert reference_cache(cfg).read() == sent


@pytest.mark.parametrize("raw", ["inf", "nan", "0", "-2", "two"])
def test_a_cpus_per_run_setting_that_is_not_a_positive_number_starts_no_dispatcher(monkeypatch, raw):
    from ssrl_core.runs import ray_backend

    spawned = []
    monkeypatch.setattr(ray_backend, "spawn_detached", lambda *a, **k: spawned.append(a))
    monkeypatch.setenv("SSRL_RAY_CPUS_PER_RUN", raw)
    with pytest.raises(ValueError, match=f"SSRL_RAY_CPUS_PER_RUN must be a number above 0 .*got '{raw}'"):
        ray_backend.start_dispatcher_process()
    assert not spawned
    monkeypatch.setenv("SSRL_RAY_CPUS_PER_RUN", "0.5")  # half a CPU a run: two runs a CPU
    ray_backend.start_dispatcher_process()
    assert len(spawned) == 1


@needs_ray
def test_a_cluster_with_gpus_takes_one_run_per_gpu_that_has_the_cpus_it_asks_for_beside_it(monkeypatch):
    """The cluster's nodes as Ray lists them (no GPU is needed here): a run asks for one GPU and
    its CPUs, so a node takes as many runs as it has GPUs with those CPUs beside each; a node
    without a GPU, or one that is gone, takes none."""
    import ray

    from ssrl_core.runs.ray_backend import Dispatcher

    monkeypatch.setattr(ray, "nodes", lambda: [
        {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 2.0}},
        {"Alive": True, "Resources": {"CPU": 3.0, "GPU": 4.0}},  # CPUs for fewer runs than its GPUs
        {"Alive": True, "Resources": {"CPU": 32.0}},
        {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}}])
    assert Dispatcher(cpus_per_run=2).slots() == (3, {"num_gpus": 1, "num_cpus": 2})  # 2 + 1
    monkeypatch.delenv("SSRL_RAY_CPUS_PER_RUN", raising=False)
    assert Dispatcher().slots() == (5, {"num_gpus": 1, "num_cpus": 1})  # one CPU beside each GPU: 2 + 3
