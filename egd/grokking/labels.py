"""One name per method and per experiment variant, used by file names, tables, the CLI and the book.

* :func:`method_key` — the method with its rank: ``"egd-rsvd128"``, ``"egd-svd"``; the key
  of the paper's numbers (:mod:`egd.grokking.paper_numbers`) and of the book's palette;
* :func:`variant_key` — the method key plus the knobs that make a different experiment
  (``"egd-svd decoupled-wd"``, ``"vanilla numpy-streams"``, ``"egd-svd b=0.5"``; with an
  adaptive optimizer its name and weight decay, ``"egd-svd adamw wd=2"``);
* :func:`method_label` — the words a reader sees for a method key (``"EGD-RSVD r=128"``).
"""

from __future__ import annotations

from . import registry, tasks
from .config import RunConfig

__all__ = ["method_key", "variant_key", "variant_suffixes", "method_label", "DECOUPLED"]

DECOUPLED = "decoupled-wd"


def method_key(config: RunConfig) -> str:
    """``config.method`` with its rank or spectral cutoff appended: ``"egd-rsvd128"``,
    ``"egd-svd-top32"``, ``"egd-svd-cut0.01"``, ``"vanilla"``."""
    key = config.method + (str(config.rank) if config.rank is not None else "")
    return key + (f"{config.spectral_cutoff:g}" if config.spectral_cutoff is not None else "")


def variant_suffixes(config: RunConfig) -> list[str]:
    """The knobs that make this run a different experiment from the paper's method."""
    parts = []
    if config.optimizer != "sgd":  # Appendix D: the optimizer, and its own weight decay when nonzero
        parts.append(config.optimizer)
        if config.weight_decay:
            parts.append(f"wd={config.weight_decay:g}" if config.weight_decay_mode == "decoupled"
                         else f"l2={config.weight_decay:g}")
    elif config.weight_decay_mode != "loss":
        parts.append(DECOUPLED)
    if config.random_streams != "torch":
        parts.append(f"{config.random_streams}-streams")
    if config.second_operand_scale != tasks.DEFAULT_SECOND_OPERAND_SCALE:
        parts.append(f"b={config.second_operand_scale:g}")
    if config.threads not in (1, None):  # CPU float results depend on the thread count
        parts.append(f"{config.threads}-threads")
    return parts


def variant_key(config: RunConfig) -> str:
    """:func:`method_key` and :func:`variant_suffixes`, space separated."""
    return " ".join([method_key(config), *variant_suffixes(config)])


def _is_number(text: str) -> bool:
    try:
        return float(text) > 0
    except ValueError:
        return False


def method_label(key: str) -> str:
    """A method key as a reader reads it: the registry's label, the rank as ``r=``, variants kept.

    ``"egd-rsvd128"`` -> ``"EGD-RSVD r=128"``; ``"egd-svd decoupled-wd"`` ->
    ``"EGD (exact), decoupled-wd"``; ``"egd-svd-cut0.01"`` -> ``"EGD (cutoff) c=0.01"``.
    ``ValueError`` for a key of no registered method.
    """
    head, *variants = key.split(" ")
    for name in sorted(registry.METHODS, key=len, reverse=True):
        if head == name:
            label = registry.METHODS[name].label
            break
        rank = head[len(name):]
        if head.startswith(name) and rank.isdigit() and registry.METHODS[name].needs_rank:
            label = f"{registry.METHODS[name].label} r={rank}"
            break
        if head.startswith(name) and registry.METHODS[name].needs_cutoff and _is_number(rank):
            label = f"{registry.METHODS[name].label} c={rank}"
            break
    else:
        raise ValueError(f"method key must start with one of {sorted(registry.METHODS)}, got {key!r}")
    return ", ".join([label, *variants])
