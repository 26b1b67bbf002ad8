"""egd.bench — benchmarks that write JSON into ``benchmarks/results/``.

* :mod:`~egd.bench.transforms` — :func:`egd.orthogonalize` per method and shape
  (``python -m egd.bench``);
* :mod:`~egd.bench.epoch` — milliseconds per training epoch, vanilla vs EGD (``egd-grok bench``);
* :mod:`~egd.bench.step_cost` — milliseconds per optimizer step in Appendix D's settings, the
  baseline against EGD, RSVD and Grokfast (``python -m egd.bench.step_cost``).
"""

