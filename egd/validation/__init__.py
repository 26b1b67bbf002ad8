"""egd.validation — the toy model's predictions against the torch implementation.

The only part of ``egd`` that imports :mod:`toymodel`. Three levels:

* :mod:`~egd.validation.toy_torch` — level 1: the toy's linear model trained by the torch stack;
* :mod:`~egd.validation.toy_mlp` — level 2: a 2-layer ReLU net on the toy distribution;
* :mod:`~egd.validation.anisotropy` — level 3: modular addition with a controlled slow direction.
"""
