"""Benchmark measurement and reporting: data sets, likelihood scoring, membership inference, metrics, report.

- :mod:`unlearn.eval.datasets`: MedMCQA and MHQA items and their seeded memorised/held-out splits.
- :mod:`unlearn.eval.scoring`: MCQ accuracy by length-normalised option log-likelihood, per-level
  concept-token log-likelihood, perplexity.
- :mod:`unlearn.eval.mia`: LOSS, zlib, Min-K% and Min-K%++ membership-inference AUCs.
- :mod:`unlearn.eval.metrics`: pure numpy metrics (FR, efficacy, KP, AUC, PrivLeak, bootstrap, …).
- :mod:`unlearn.eval.report`: ``results.json``, ``results.md`` and ``report.html`` with plots.
- :mod:`unlearn.eval.suite`: the suites' configs; :mod:`unlearn.eval.inputs`: what a run resolves first and its
  training masks; :mod:`unlearn.eval.runner`: the suite as cached stages; :mod:`unlearn.eval.evaluate`: one
  checkpoint on a suite's splits.
"""
