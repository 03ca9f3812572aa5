"""chronoguard_extras: optional drift detectors kept for users and benchmarks.

Nothing in the chronoguard loop (monitoring, policy, lifecycle, orchestration, the CLI)
calls these modules: the loop's drift checks live in :mod:`chronoguard.drift`. They ship in
the same distribution as ``chronoguard`` but in a separate top-level package, so the core
stays what the loop uses; an import-linter contract forbids ``chronoguard`` from importing
``chronoguard_extras`` (the other direction is allowed: the extras build on
``chronoguard.drift``).

Contents and how to import them:

* streaming detectors with one interface (``update(x) -> self``, ``drift_detected``)::

      from chronoguard_extras.streaming import ADWIN, CUSUM, KSWIN, PageHinkley, StreamingDetector

  ADWIN, PageHinkley and KSWIN are thin adapters over river's detectors;
  :class:`~chronoguard_extras.streaming.CUSUM` pre-whitens and calibrates its threshold
  to a target in-control average run length.

* multivariate two-sample tests on dependent rows (block permutations)::

      from chronoguard_extras.multivariate import auto_block_length, classifier_test, mmd_test

  ``classifier_test`` needs scikit-learn (in the ``bench`` extra).

This package imports nothing on its own; import the submodule you need.
"""
