"""The code on machines other than this one: CUDA paths exercised on the CPU by simulating
what torch and faiss report, start methods other than fork, and SSRL_HOME paths with
spaces, non-ASCII characters or no write permission."""
import numpy as np
import pytest
import torch

from ssrl_core import device as dev


def test_auto_precision_on_a_gpu_that_only_emulates_bfloat16_is_float16_with_a_scaler(monkeypatch):
    """A Volta or Turing GPU (V100, T4): torch's ``is_bf16_supported()`` says True there
    because bf16 can be emulated, but emulated bf16 is far slower than float16; the README
    promises float16 with loss scaling on older GPUs."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert dev.precision_for(torch.device("cuda")) == dev.Precision(torch.float16, True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)  # Ampere and later
    assert dev.precision_for(torch.device("cuda")) == dev.Precision(torch.bfloat16, False)


def test_fine_tuning_in_float16_scales_its_loss(monkeypatch):
    """Where ``auto`` is float16 (a GPU without native bf16), fine-tuning and supervised
    training from scratch must scale the loss as pretraining does: without a gradient scaler
    float16 gradients below 6e-8 become zero. Simulated on the CPU, whose autocast runs float16."""
    import numpy as np

    from ssrl_core.data import load_dataset
    from ssrl_core.evaluate import finetune
    from ssrl_core.models import build_encoder

    scaled = []

    class Recording(torch.amp.GradScaler):
        def scale(self, outputs):
            scaled.append(float(self.get_scale()))
            return super().scale(outputs)

    monkeypatch.setattr(torch.amp, "GradScaler", Recording)
    monkeypatch.setattr(finetune, "precision_for", lambda device, preference="auto": dev.Precision(torch.float16, True))
    ds = load_dataset("digits")
    rows, test_rows = np.arange(40), np.arange(40, 80)
    acc = finetune.train_classifier(build_encoder("cnn-small", 1), ds.images, ds.labels.numpy(), rows, test_rows, 10,
                                    "crop", torch.device("cpu"), pretrained=False, steps=3, batch=16)
    assert 0.0 <= acc <= 1.0
    assert len(scaled) == 3 and scaled[0] > 1.0  # every step's loss multiplied before its backward pass


def test_a_run_begun_on_a_gpu_continues_on_a_cpu(tmp_path, small):
    """A checkpoint holds the run's random generator; a CUDA generator's state is 16 bytes, a
    CPU one's 5,056, and torch refuses the one in the other. A run continued on another kind
    of device (the CLI's --device cpu on a folder begun on a GPU, a Ray node without one) goes
    on with a warning instead of failing with torch's message."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from ssrl_core.config import RunConfig
    from ssrl_core.train import CHECKPOINT, pretrain

    cfg = dict(dataset=small, method="simclr", encoder="cnn-small", batch_size=16)
    pretrain(RunConfig(epochs=1, **cfg), tmp_path)
    ckpt = tmp_path / CHECKPOINT
    with safe_open(str(ckpt), framework="pt") as f:  # as a GPU worker writes it: its generator's state
        tensors, metadata = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    tensors["extra.rng"] = torch.arange(16, dtype=torch.uint8)
    save_file(tensors, str(ckpt), metadata=metadata)

    events = []
    pretrain(RunConfig(epochs=2, **cfg), tmp_path, on_event=events.append)
    assert events[0] == {"kind": "resumed", "epoch": 1, "epochs": 2}
    warning = next(e["message"] for e in events if e["kind"] == "warning")
    assert warning.startswith("continued on cpu from a checkpoint written on another kind of device")
    assert [e["epoch"] for e in events if e["kind"] == "epoch_end"] == [2]


@pytest.mark.filterwarnings("ignore:for (weight|bias). copying from a non-meta parameter")
def test_a_checkpoint_loads_onto_the_models_device_with_adamws_step_counters_on_the_cpu(tmp_path):
    """The file is read into host memory and each tensor copied onto its parameter's device
    (here the meta device stands in for a GPU); AdamW's step counters stay on the CPU, as in
    a fresh run: on a GPU they would cost a host synchronisation per parameter every step."""
    from ssrl_core.checkpoint import load_checkpoint, save_checkpoint

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.safetensors", model, opt, {"epoch": 1})

    elsewhere = torch.nn.Linear(3, 2, device="meta")
    opt2 = torch.optim.AdamW(elsewhere.parameters())
    meta, _ = load_checkpoint(tmp_path / "c.safetensors", elsewhere, opt2)
    assert meta == {"epoch": 1}
    states = list(opt2.state.values())
    assert len(states) == 2
    assert all(s["step"].device.type == "cpu" and s["exp_avg"].device.type == "meta" for s in states)


def see_a_gpu_that_is_not_there(monkeypatch):
    """From here on torch and faiss both report a GPU, and any attempt to use one fails."""
    import faiss

    def no_gpu(*a, **k):
        raise RuntimeError("simulated GPU: this process tried to use it")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "StandardGpuResources", no_gpu, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", no_gpu, raising=False)
    monkeypatch.setattr(torch.nn.Module, "cuda", no_gpu)


def test_the_app_server_answers_an_uploaded_images_neighbours_on_the_cpu_on_a_gpu_machine(finished_run, monkeypatch):
    """Explore's upload query runs in the Streamlit process: the encoder and the faiss index
    stay on the CPU there, so the server holds no CUDA context beside the workers' training."""
    import io

    from PIL import Image

    from app import services
    from ssrl_core.runs.store import RunStore

    run = RunStore().get(finished_run("random"))
    see_a_gpu_that_is_not_there(monkeypatch)
    buf = io.BytesIO()
    Image.fromarray((np.arange(32 * 32, dtype=np.uint8) % 251).reshape(32, 32)).save(buf, format="PNG")
    out = services.query_neighbours(run["run_dir"], buf.getvalue(), 1, 32, k=8)
    assert len(out["neighbours"]) == 8
    assert len(services.artifacts(run["run_dir"]).neighbours(0, k=8)) == 8
    assert dev.faiss_use_gpu() is False


def test_faiss_takes_a_gpu_that_works_and_falls_back_to_the_cpu_from_one_that_does_not(monkeypatch):
    """A worker process puts faiss on a GPU it sees only once a test search there works: a
    card faiss sees but cannot use (too old for the wheel's kernels, no free memory) fails
    at the first search, and every evaluation of every run would fail with it."""
    import faiss

    monkeypatch.setattr(dev, "_SERVING_PAGES", False)  # a worker, not the app's server
    monkeypatch.setattr(dev, "_FAISS_GPU", None)
    see_a_gpu_that_is_not_there(monkeypatch)
    with pytest.warns(RuntimeWarning, match="faiss sees a GPU but cannot use it .*simulated GPU.*on the CPU"):
        assert dev.faiss_use_gpu() is False
    from ssrl_core.evaluate import index as index_module
    from ssrl_core.evaluate.index import build_index

    x = np.eye(3, dtype=np.float32)
    assert build_index(x).search(x, 1)[1][:, 0].tolist() == [0, 1, 2]  # exact search, on the CPU

    placed = []  # a GPU that works: the index is placed there (here: a CPU index standing in for it)
    monkeypatch.setattr(dev, "_FAISS_GPU", None)
    monkeypatch.setattr(index_module, "_GPU_RES", None)  # the process's GPU resources, made anew and dropped after
    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: "resources", raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", lambda res, dev_id, index: placed.append(dev_id) or index,
                        raising=False)
    assert dev.faiss_use_gpu() is True
    build_index(x)
    assert placed == [0, 0]  # the test search's index, then the real one


def test_the_benchmarks_dataloader_workers_start_under_spawn(tmp_path):
    """macOS and Windows start processes with ``spawn``: the bench command's reference
    pipeline (the only multiprocessing in the code; workers, probe and lesson jobs are fresh
    interpreters started with subprocess) must pickle its dataset and transforms. A real
    worker process, started by spawn, makes one batch."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = """
import multiprocessing as mp
mp.set_start_method("spawn", force=True)
import torch
from ssrl_core.data import load_dataset
from ssrl_core.speed import _PILViews, reference_transform
ds = load_dataset("digits")
data = _PILViews(ds.images[:8].permute(0, 2, 3, 1).contiguous().numpy(), ds.labels[:8].numpy(),
                 reference_transform("crop,flip,color_jitter,grayscale,blur,noise", 32), 2)
v1, v2, y, idx = next(iter(torch.utils.data.DataLoader(data, batch_size=4, num_workers=1)))
print(torch.multiprocessing.get_start_method(), tuple(v1.shape), tuple(y.shape))
"""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["spawn", "(4,", "1,", "32,", "32)", "(4,)"]


def test_the_app_on_a_home_it_cannot_write_says_so_and_writes_nothing(tmp_path, monkeypatch):
    """A read-only SSRL_HOME (a shared folder, a read-only mount) or one that cannot be made
    opens on one error saying what to do, not a traceback, and nothing is written there."""
    import os

    from streamlit.testing.v1 import AppTest

    from .conftest import ROOT

    def opened():
        at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        return [e.value for e in at.error]

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SSRL_HOME", str(tmp_path / "a-file" / "home"))
    assert opened() == [f"SSRL_HOME ({tmp_path / 'a-file' / 'home'}) cannot be made (Not a directory): point "
                        "SSRL_HOME at a folder this user can write, then restart"]

    home = tmp_path / "read-only home"
    home.mkdir()
    monkeypatch.setenv("SSRL_HOME", str(home))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: (not mode & os.W_OK or os.fspath(p) != str(home))
                        and real_access(p, mode))  # as a user without write permission there sees it
    assert opened() == [f"SSRL_HOME ({home}) is read-only for this user: runs, datasets and the run store are "
                        "written there, so point SSRL_HOME at a folder this user can write, then restart"]
    assert list(home.iterdir()) == []


def test_a_command_on_a_read_only_run_store_says_so(tmp_path):
    """SQLite needs to write beside a WAL store even to read it: every command on a
    read-only home ended in a traceback ('attempt to write a readonly database'); it now
    says which file and what to do, with status 2. Run as a user without write permission
    (root drops its capability to override file permissions)."""
    import os
    import shutil
    import subprocess
    import sys

    from ssrl_core.runs.store import RunStore

    from .conftest import ROOT

    home = tmp_path / "home"
    RunStore(home / "store.sqlite")
    cmd = [sys.executable, "-m", "ssrl_core", "runs"]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("needs setpriv to run without root's permission override")
        drop = "-dac_override,-dac_read_search,-fowner"
        cmd = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *cmd]
    for p in (home / "store.sqlite", home):
        p.chmod(0o555)
    try:
        out = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, SSRL_HOME=str(home), PYTHONPATH=str(ROOT)),
                             capture_output=True, text=True, timeout=120)
    finally:
        home.chmod(0o755)
    if out.stderr.startswith("setpriv:"):
        pytest.skip(f"setpriv cannot drop capabilities here: {out.stderr.strip()}")
    assert out.returncode == 2, out.stderr[-1500:]
    assert out.stderr.startswith("error: the run store cannot be written (attempt to write a readonly database: "
                                 "SQLite writes beside it even to read it; point SSRL_HOME at a folder this user "
                                 f"can write): {home / 'store.sqlite'}"), out.stderr


def test_without_posix_file_locks_the_import_says_where_it_runs():
    """Windows has no fcntl: the library says so and where to run it instead of
    'No module named fcntl' from deep inside the worker's imports."""
    import subprocess
    import sys

    from .conftest import ROOT

    script = "import sys; sys.modules['fcntl'] = None\nimport ssrl_core.locks"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "ImportError: SSRL Playground's workers and jobs coordinate through POSIX file locks (fcntl.flock), which "
        "Windows does not have: run it on Linux or macOS, or on Windows inside WSL")


def test_a_filesystem_without_file_locks_is_said_not_taken_for_a_busy_worker(tmp_path, monkeypatch, capsys):
    """On an NFS mount without a lock service (or an SMB or FUSE mount) flock fails with
    ENOLCK: it was read as "another worker holds the slot", so the worker exited saying one
    served the queue, the app warned of an older version's worker, and runs waited queued for
    ever. The worker, the app's first check and a lock probe now say what is wrong and what to
    do; a lock another process holds is still "held"."""
    import errno
    import fcntl

    from ssrl_core import locks, paths
    from ssrl_core.cli import main

    held = tmp_path / "held.lock"
    with open(held, "a") as mine, open(held, "a") as theirs:  # two opens: flock sees two holders, as two processes
        assert locks.try_lock(mine) and not locks.try_lock(theirs)

    real = fcntl.flock

    def refuse(fd, op):
        if op & fcntl.LOCK_UN:
            return real(fd, op)
        raise OSError(errno.ENOLCK, "No locks available")

    # NFS with its lock service: flock is emulated by byte-range locks, which need a file open for writing; a first
    # probe locked the home's folder (opened read-only) and would have refused a home whose locks work
    def nfs(fd, op):  # a folder cannot be opened for writing: its lock fails
        import os
        import stat

        if stat.S_ISDIR(os.fstat(fd if isinstance(fd, int) else fd.fileno()).st_mode):
            raise OSError(errno.EBADF, "Bad file descriptor")
        return real(fd, op)

    monkeypatch.setattr(fcntl, "flock", nfs)
    monkeypatch.setenv("SSRL_HOME", str(tmp_path / "nfs with locks"))
    assert paths.home_problem() is None

    monkeypatch.setattr(fcntl, "flock", refuse)
    home = tmp_path / "nfs home"
    monkeypatch.setenv("SSRL_HOME", str(home))
    said = ("file locks do not work on the filesystem holding {} (No locks available), and SSRL Playground's workers "
            "and jobs coordinate through them: point SSRL_HOME at a folder on a local disk (not a network or FUSE "
            "mount)")
    assert paths.home_problem() == f"SSRL_HOME ({home}): {said.format(home / 'workers')}, then restart"
    assert main(["worker", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: " + said.format(home / "workers" / "slot-0.lock")), err
    assert "already running" not in err


def test_workers_share_out_the_cores_a_container_leaves_them_not_the_machines(monkeypatch):
    """In a container given 2 of a host's 8 cores (a cpuset, or ``taskset``), two workers took
    4 torch threads each, the host's share: 8 threads on 2 cores. torch's own default counts
    the cores the process may run on; the share does too (where the OS says which)."""
    import os

    from ssrl_core.runs import worker

    monkeypatch.delenv("SSRL_TORCH_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert worker.usable_cores() == 2 and worker.torch_threads(2) == 1
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS: no affinity call, the machine's count
    assert worker.usable_cores() == 8 and worker.torch_threads(2) == 4


def test_files_with_words_in_them_are_written_and_read_as_utf8_under_an_ascii_locale(tmp_path, finished_run, ssrl_home):
    """On a server whose locale is ASCII (``LC_ALL=C`` with Python's UTF-8 mode off), export
    failed with "'ascii' codec can't encode character '\\u2013'" (the run card's dash), and
    an imported set's class names (meta.json, written with ensure_ascii=False) could not be
    written or read back: every text file the library writes with words in it is UTF-8."""
    import os
    import subprocess
    import sys

    from .conftest import ROOT
    from .test_import_images import make_zip, png

    ascii_env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", PYTHONIOENCODING="utf-8",
                     SSRL_HOME=str(ssrl_home), PYTHONPATH=str(ROOT))

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "ssrl_core", *args], cwd=ROOT, env=ascii_env, capture_output=True,
                             text=True, encoding="utf-8", timeout=300)
        assert out.returncode == 0, out.stderr[-1500:]
        return out.stdout

    check = [sys.executable, "-c", "import locale; print(locale.getpreferredencoding(False))"]
    assert subprocess.run(check, env=ascii_env, capture_output=True, text=True).stdout.strip() in ("ANSI_X3.4-1968", "ascii")
    run("export", "--run", finished_run("simclr"), "--out", str(tmp_path / "export"))
    assert "\u2013" in (tmp_path / "export" / "run_card.md").read_text(encoding="utf-8")
    members = {f"{c}/{i}.png": png((40 * i, 90 * k, 0)) for k, c in enumerate(("café", "thé")) for i in range(4)}
    run("import-images", str(make_zip(tmp_path / "drinks.zip", members)), "--name", "drinks")
    names = subprocess.run([sys.executable, "-c", "from ssrl_core.data import load_dataset; "
                            "print(*load_dataset('drinks').class_names)"], cwd=ROOT, env=ascii_env, capture_output=True,
                           text=True, encoding="utf-8", timeout=120)
    assert names.stdout.split() == ["café", "thé"], names.stderr[-1500:]


def test_a_cpu_trains_in_bfloat16_by_default_only_where_it_computes_it_natively(monkeypatch):
    """AVX512-BF16 or AMX each compute bfloat16 natively (a CPU may have one without the
    other); a CPU with neither, or one torch runs without AVX512, emulates it, slower than
    float32: ``auto`` is float32 there."""
    from pathlib import Path

    cases = [("AVX512", "flags\t: avx512f avx512_bf16", True), ("AVX512", "flags\t: avx512f amx_bf16 amx_tile", True),
             ("AVX512", "flags\t: avx512f avx512bw", False), ("AVX2", "flags\t: avx2 avx512_bf16 amx_bf16", False)]
    try:
        for cap, flags, native in cases:
            monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda cap=cap: cap)
            monkeypatch.setattr(Path, "read_text", lambda self, flags=flags, **kw: flags)
            dev.cpu_has_native_bf16.cache_clear()
            assert dev.cpu_has_native_bf16() is native, (cap, flags)
            assert dev.precision_for(torch.device("cpu")) == dev.Precision(torch.bfloat16 if native else None, False)
            assert dev.precision_for(torch.device("cpu"), "bfloat16").dtype == torch.bfloat16  # asked for: emulated
    finally:
        monkeypatch.undo()
        dev.cpu_has_native_bf16.cache_clear()  # this machine's answer again


def test_a_gpu_runs_random_state_goes_into_its_checkpoint_and_back_and_a_cpus_never_touches_the_gpu(monkeypatch):
    """A method's own draws (MAE's masks) come from PyTorch's global generators: a run
    resumed draws the numbers it would have drawn. A checkpoint written on a GPU holds the
    GPU's state too; resumed on a CPU it is not given to a GPU, and one written before the
    global state was kept (no such entries) resumes as before."""
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    given = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda device="cuda": torch.arange(16, dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state", lambda state, device="cuda": given.append(state.tolist()))
    on_gpu = dev.global_rng_state(cuda)
    assert set(on_gpu) == {"torch_rng", "cuda_rng"} and on_gpu["cuda_rng"].tolist() == list(range(16))
    assert set(dev.global_rng_state(cpu)) == {"torch_rng"}
    dev.set_global_rng_state(cpu, on_gpu)
    assert given == []
    dev.set_global_rng_state(cuda, on_gpu)
    assert given == [list(range(16))]
    dev.set_global_rng_state(cuda, {})  # a checkpoint from before 2026-12-03
    assert given == [list(range(16))]

    saved = dev.global_rng_state(cpu)
    drawn = torch.rand(4)
    torch.rand(7)  # the run goes on, is stopped, and is resumed from the checkpoint
    dev.set_global_rng_state(cpu, saved)
    assert torch.equal(torch.rand(4), drawn)
    g1, g2 = dev.generator_for(cpu, 7), dev.generator_for(cpu, 7)
    assert torch.equal(torch.rand(5, generator=g1), torch.rand(5, generator=g2))  # the run's own, by its seed


def test_a_constant_is_copied_to_each_device_and_dtype_it_is_asked_for():
    """A colour matrix asked for on a GPU (the meta device stands in for one) is a copy there,
    not the CPU's tensor from the cache; the same request is the same copy."""
    t = torch.tensor([0.25, 0.5, 0.25])
    on_cpu = dev.constant(t, torch.device("cpu"))
    assert dev.constant(t, "cpu") is on_cpu and torch.equal(on_cpu, t)
    assert dev.constant(t, torch.device("meta")).device.type == "meta"
    assert dev.constant(t, "cpu", torch.bfloat16).dtype == torch.bfloat16
    assert dev.constant(t, "cpu").dtype == torch.float32


def test_faiss_stays_on_the_cpu_where_a_gpus_test_search_finds_the_wrong_neighbours(monkeypatch):
    """A card faiss's kernels do not support can answer a search with wrong rows instead of an
    error: every index placed there would give wrong neighbours and accuracies."""
    import faiss

    class WrongIndex:
        def add(self, x):
            pass

        def search(self, x, k):
            return np.ones((len(x), k), np.float32), np.array([[0], [0], [2], [3]])

    monkeypatch.setattr(dev, "_SERVING_PAGES", False)
    monkeypatch.setattr(dev, "_FAISS_GPU", None)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: "resources", raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", lambda res, dev_id, index: WrongIndex(), raising=False)
    with pytest.warns(RuntimeWarning, match=r"a test search returned \[0, 0, 2, 3\] instead of \[0, 1, 2, 3\]"):
        assert dev.faiss_use_gpu() is False


def test_a_home_given_with_a_tilde_is_the_users_and_asking_where_makes_nothing(tmp_path, monkeypatch):
    """``SSRL_HOME=~/class`` (quoted in a unit file or .env, so no shell expanded it) is the
    user's folder, not a folder named '~' in the working folder; a reader asking where the
    data and runs would be makes neither, nor the home."""
    import os

    from ssrl_core import paths

    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("SSRL_HOME", "~/class")
    home = tmp_path / "user" / "class"
    assert paths.home_path() == home
    assert os.environ["SSRL_HOME"] == str(home)  # what the workers and jobs it starts inherit
    assert paths.data_dir(make=False) == home / "data" and paths.runs_dir(make=False) == home / "runs"
    assert not (tmp_path / "user").exists()
    assert paths.runs_dir() == home / "runs" and (home / "runs").is_dir()


def test_only_float16_gets_a_gradient_scaler_and_autocast_runs_in_the_precisions_dtype():
    """bfloat16 has float32's range: a scaler there would only cost time (and its inf checks a
    host synchronisation per step on a GPU); float16 without one loses small gradients."""
    cpu = torch.device("cpu")
    fp16, bf16, fp32 = dev.Precision(torch.float16, True), dev.Precision(torch.bfloat16, False), dev.Precision(None, False)
    assert isinstance(dev.grad_scaler(cpu, fp16), torch.amp.GradScaler)
    assert dev.grad_scaler(cpu, bf16) is None and dev.grad_scaler(cpu, fp32) is None
    a = torch.randn(4, 4)
    for precision, dtype in ((bf16, torch.bfloat16), (fp32, torch.float32)):
        with dev.autocast(cpu, precision):
            assert (a @ a).dtype == dtype, precision.name


def test_the_app_server_keeps_faiss_on_the_cpu_where_a_worker_would_use_a_working_gpu(monkeypatch):
    """``serve_pages_on_cpu`` (the app's services module calls it on import): faiss's scratch
    memory and a CUDA context would sit on the workers' GPU for as long as the server lives."""
    import faiss

    monkeypatch.setattr(dev, "_SERVING_PAGES", False)
    monkeypatch.setattr(dev, "_FAISS_GPU", None)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: "resources", raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", lambda res, dev_id, index: index, raising=False)
    assert dev.faiss_use_gpu() is True  # a worker: the test search on the (stand-in) GPU works
    dev.serve_pages_on_cpu()
    assert dev.faiss_use_gpu() is False


def test_a_run_records_the_gpu_it_trained_on(monkeypatch):
    """The run record's hardware names the CUDA device where there is one, None without."""
    assert dev.hardware()["cuda"] is None or torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    hw = dev.hardware()
    assert hw["cuda"] == {"device": "NVIDIA H100 80GB HBM3", "count": 2, "version": torch.version.cuda}
    assert hw["cpu_count"] >= 1 and hw["cpu"] and hw["torch_threads"] == torch.get_num_threads()


def test_a_home_whose_run_store_is_read_only_is_said_so(tmp_path, monkeypatch):
    """A writable home whose store.sqlite this user cannot write (copied from another user's,
    a file made read-only): every submit would fail later, in SQLite's words."""
    import os

    from ssrl_core import paths

    home = tmp_path / "home"
    monkeypatch.setenv("SSRL_HOME", str(home))
    assert paths.home_problem() is None
    store = paths.store_path()
    store.write_bytes(b"")
    assert paths.home_problem() is None
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: (not mode & os.W_OK or os.fspath(p) != str(store))
                        and real_access(p, mode))  # as a user without write permission on it sees it
    assert paths.home_problem() == (f"SSRL_HOME ({home}) is read-only for this user: runs, datasets and the run "
                                    "store are written there, so point SSRL_HOME at a folder this user can write, "
                                    "then restart")


def test_the_lock_probe_makes_its_folder_and_file_and_a_probe_held_elsewhere_is_locks_working(tmp_path, monkeypatch):
    """A new home's workers folder: the probe makes it and its empty probe file. Two probes at
    once (the app's and a worker's): the one finding the probe held elsewhere has found locks
    working, not refused. A filesystem refusing locks is said, naming the folder."""
    import errno
    import fcntl

    from ssrl_core import locks

    folder = tmp_path / "new home" / "workers"
    locks.check_locks(folder)
    probe = folder / locks.PROBE
    assert probe.is_file() and probe.stat().st_size == 0
    with open(probe, "a") as other:  # another process probing now (flock: per open file)
        fcntl.flock(other, fcntl.LOCK_EX)
        locks.check_locks(folder)
    with open(probe, "a") as fh:
        assert locks.try_lock(fh)  # the probes let go

    def refuse(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refuse)
    with pytest.raises(locks.LocksUnsupported, match=f"holding {folder} \\(No locks available\\)"):
        locks.check_locks(folder)


def test_an_exclusive_block_waits_for_the_lock_makes_no_folder_when_told_and_lets_go_after_an_error(tmp_path):
    """``exclusive``: a second holder waits until the first's block ends; a lock beside a run
    folder deleted meanwhile (``make_folder=False``) makes no folder anew; a block that raises
    lets the lock go."""
    import threading

    from ssrl_core import locks

    gone = tmp_path / "deleted run" / "cache.json.lock"
    with pytest.raises(FileNotFoundError):
        with locks.exclusive(gone, make_folder=False):
            pass
    assert not gone.parent.exists()
    path = tmp_path / "made" / "x.lock"
    with pytest.raises(RuntimeError, match="in the block"):
        with locks.exclusive(path):
            raise RuntimeError("in the block")
    assert path.is_file() and not locks.lock_held(path)
    order = []

    def second():
        with locks.exclusive(path):
            order.append("second")

    with locks.exclusive(path):
        t = threading.Thread(target=second)
        t.start()
        t.join(0.5)
        assert t.is_alive() and order == []  # waiting
        order.append("first")
    t.join(10)
    assert order == ["first", "second"]


def test_cached_gpu_memory_is_given_back_only_where_cuda_is_in_use(monkeypatch):
    """Nothing without a GPU, nor on one this process never used (emptying the cache would
    make a CUDA context there); once it has, the cache is given back."""
    calls = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    for available, initialised in ((False, False), (True, False), (False, True), (True, True)):
        monkeypatch.setattr(torch.cuda, "is_available", lambda a=available: a)
        monkeypatch.setattr(torch.cuda, "is_initialized", lambda i=initialised: i)
        dev.release_cached_memory()
        assert calls == (["empty_cache"] if available and initialised else []), (available, initialised)


def test_a_run_records_the_cpus_model_name_from_proc_cpuinfo(tmp_path, monkeypatch):
    """The CPU's name is /proc/cpuinfo's "model name" (not the "model" number before it), and
    where that is missing, empty or unreadable, the machine's architecture instead."""
    import builtins
    import platform

    info = tmp_path / "cpuinfo"

    def fake_open(path, *args, **kwargs):
        if str(path) == "/proc/cpuinfo":
            if not info.exists():
                raise PermissionError(13, "Permission denied")
            return builtins.open(info, *args, **kwargs)
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(dev, "open", fake_open, raising=False)
    monkeypatch.setattr(platform, "processor", lambda: "")
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t: AMD EPYC 9654 96-Core Processor  \nstepping\t: 1\n")
    assert dev.cpu_model() == "AMD EPYC 9654 96-Core Processor"
    assert dev.hardware()["cpu"] == "AMD EPYC 9654 96-Core Processor"
    info.write_text("processor\t: 0\nmodel name\t:   \n")
    assert dev.cpu_model() is None
    info.write_text("processor\t: 0\nFeatures\t: fp asimd\nCPU part\t: 0xd0c\n")  # an ARM's: no model name
    assert dev.cpu_model() is None and dev.hardware()["cpu"] == platform.machine()
    info.unlink()  # unreadable
    assert dev.cpu_model() is None and dev.hardware()["cpu"] == platform.machine()
