"""What produced the numbers: device names, the resolved device, and a run's environment."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

__all__ = ["device_name", "resolve_device", "require_device", "require_threads", "environment"]


def device_name(device: torch.device | str) -> str:
    """The hardware's name as result files record it: the GPU's name, or the CPU's model name.

    On Linux the CPU's name is ``model name`` of ``/proc/cpuinfo`` (``platform.processor()``
    is often empty or just ``x86_64``); elsewhere whatever :mod:`platform` knows.
    """
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            name = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return name


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; other names unchanged.

    Raises ``ValueError`` for a malformed name. Naming a device this machine lacks is fine
    here (configs of GPU runs are built on any machine to look their files up); see
    :func:`require_device` before computing on it.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return str(torch.device(device))
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}") from exc


def require_device(device: str) -> None:
    """``ValueError`` unless this torch can compute on ``device`` (checked before any work)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asks for CUDA, but this torch ({torch.__version__}) sees no CUDA "
                             f"device; use device 'cpu' (CLI: --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                             f"numbered from 0")
    elif dev.type != "cpu":
        raise ValueError(f"device must be a CPU or CUDA device, got {device!r}")


def require_threads(config) -> None:
    """``ValueError`` unless torch computes a CPU run with ``config.threads`` threads.

    CPU kernels sum in an order that depends on the thread count, so a run at 2 threads
    gives other numbers than at 1 and is stored under another key. Library and harness
    code never change the count: entry points do (``egd-grok --threads N``).
    """
    if torch.device(config.device).type != "cpu":
        return
    have = torch.get_num_threads()
    if have != config.threads:
        raise ValueError(f"threads: the config says {config.threads} but torch computes with {have} threads "
                         f"(results depend on it); call torch.set_num_threads({config.threads}) in your entry "
                         f"point, or build the config with threads=torch.get_num_threads() (= {have})")


def _git(*args: str) -> str | None:
    here = Path(__file__).resolve().parents[1]  # the egd package: library and harness
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=here)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def environment(device: str) -> dict:
    """torch version, device and its name, threads, Python, and the git commit of the code.

    ``git_dirty``: tracked files of the package's folder were edited after that commit
    (None outside a git checkout, e.g. an installed wheel).
    """
    dev = torch.device(device)
    commit = _git("rev-parse", "HEAD") or None
    dirty = None
    if commit:
        status = _git("status", "--porcelain", "--untracked-files=no", "--", ".")
        dirty = None if status is None else bool(status)
    return {"torch": torch.__version__, "device": str(dev), "device_name": device_name(dev),
            "threads": torch.get_num_threads(), "python": platform.python_version(), "git_commit": commit,
            "git_dirty": dirty}
