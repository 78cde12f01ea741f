"""Checkpoints as safetensors only: model weights, optimiser state and loop state in one
file, written atomically. Loading never unpickles, so a foreign file cannot run code. A file that
cannot be read raises ValueError saying so; what to do about it is the caller's to say (a
run being continued can start over, a finished run's weights are its result)."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save
from safetensors import safe_open

from .runs.artifacts import write_whole


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, meta: dict,
                    extra: dict[str, torch.Tensor] | None = None) -> None:
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    groups = []
    if optimizer is not None:
        sd = optimizer.state_dict()
        for pid, st in sd["state"].items():
            for key, val in st.items():
                t = val if torch.is_tensor(val) else torch.tensor(val)
                tensors[f"optim.{pid}.{key}"] = t.detach().contiguous().cpu()
        groups = sd["param_groups"]
    for k, v in (extra or {}).items():
        tensors[f"extra.{k}"] = v.contiguous().cpu()
    metadata = {"meta": json.dumps(meta), "param_groups": json.dumps(groups)}
    # serialised here and written by Python, so a failed write is an OSError with its errno and path
    # (safetensors' own writer raised its SafetensorError: a full disk read as a crash)
    data = save(tensors, metadata=metadata)
    write_whole(path, lambda f: f.write(data))


def save_weights(src: Path, dst: Path) -> None:
    """``src``'s model weights and its meta (config, epoch) in ``dst``, without the optimiser's
    state and the loop's extras: what a copy handed to someone else is for (loading the trained
    network), in a third of the size (AdamW's two moments per weight were two thirds of it)."""
    try:
        with safe_open(str(src), framework="pt") as f:
            meta = (f.metadata() or {}).get("meta", "{}")
            tensors = {k: f.get_tensor(k) for k in f.keys() if k.startswith("model.")}
    except Exception as e:
        raise ValueError(f"{src} is not a readable safetensors checkpoint ({e})") from None
    data = save(tensors, metadata={"meta": meta})
    write_whole(dst, lambda f: f.write(data))


def read_meta(path: Path) -> dict:
    """The loop state stored with a checkpoint (epoch, config), without loading tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads((f.metadata() or {}).get("meta", "{}"))
    except Exception as e:
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({e})") from None


def weight_names(path: Path) -> set[str]:
    """The names of the model weights a checkpoint holds (without loading them)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k[6:] for k in f.keys() if k.startswith("model.")}
    except Exception as e:
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({e})") from None


def load_checkpoint(path: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """Load weights (and optimiser state) in place, onto whatever device the model's
    parameters are on; return (meta, extra tensors, on the CPU).

    The file is read into host memory whatever the device (a checkpoint written on a GPU
    loads on a machine without one), and ``load_state_dict`` copies each tensor onto its
    parameter's device, except the optimiser's step counters, which PyTorch keeps where they
    were loaded: on the CPU, as in a fresh run. Step counters on a GPU would make every
    AdamW step read them back, one host synchronisation per parameter, after a resume."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path), device="cpu")
    except Exception as e:
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({e})") from None
    model_sd = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    missing, unexpected = model.load_state_dict(model_sd, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not fit this model (missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})")
    if optimizer is not None and "param_groups" in metadata:
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, pid, key = k.split(".", 2)
                state.setdefault(int(pid), {})[key] = v
        optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
        _lay_out_like_parameters(optimizer)
    extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
    return json.loads(metadata.get("meta", "{}")), extra


def _lay_out_like_parameters(optimizer: torch.optim.Optimizer) -> None:
    """Each moment (AdamW's ``exp_avg``...) laid out in memory as its parameter. The file holds
    them contiguous, and ``load_state_dict`` keeps that, while the conv weights are channels-last:
    on a GPU, one such pair takes the whole step off the multi-tensor (``foreach``) path, about
    ten times the kernel launches in every optimiser step for the rest of the run."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, t in state.items():
                if torch.is_tensor(t) and t.shape == p.shape and t.stride() != p.stride():
                    state[key] = torch.empty_like(p, dtype=t.dtype).copy_(t)
