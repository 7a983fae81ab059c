"""Experiments: what reproduces the paper, built on everything below (the top layer).

* :mod:`~sair_toolbox.experiments.demo_tables`: the paper's tables in miniature on the demo world
  (``tools/demo_tables.py`` is its command line);
* :mod:`~sair_toolbox.experiments.diagnostics`: does AIR use the semantic field?
* :mod:`~sair_toolbox.experiments.figures`: Fig. 3 (zero-shot label maps) and Fig. 4 (curves);
* :mod:`~sair_toolbox.experiments.stats`: seed statistics and paired confidence intervals;
* :mod:`~sair_toolbox.experiments.seeding`: the model, data and mask seeds of one run;
* :mod:`~sair_toolbox.experiments.seed_tables`: the seeded tables (mean ± std) and the paper's
  paired comparisons;
* :mod:`~sair_toolbox.experiments.benchmarks`: the speed and memory suites of
  ``tools/benchmark.py``.

Nothing below ``experiments`` imports it (``setup.cfg``'s import-linter contract), so a change
here never alters the user API or the models. Importing this package imports none of its
modules: they train models and draw figures, and are imported where used.
"""
