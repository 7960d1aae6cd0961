"""The application layer: what ``layerwise run``, ``layerwise experiment`` and ``layerwise demo`` do.

Modules, each importing only those above it in this list and the package below:

* :mod:`~layerwise.app.validate` -- bounded alias-free YAML, safe names, every value in range;
* :mod:`~layerwise.app.config` -- run files: typed sections, checked when the file loads;
* :mod:`~layerwise.app.data` -- the splits of a run;
* :mod:`~layerwise.app.report` -- verdicts, summaries, tables, ``report.md``;
* :mod:`~layerwise.app.learners` -- pre-training the variants of a compare run;
* :mod:`~layerwise.app.compare` -- the one cell runner (``run`` task compare, ``experiment``);
* :mod:`~layerwise.app.tasks` -- the registry of single-model tasks;
* :mod:`~layerwise.app.run` -- ``layerwise run``: folder, config.yaml, dispatch;
* :mod:`~layerwise.app.evaluate` -- ``layerwise evaluate``: a checkpoint's numbers, the run's data transforms;
* :mod:`~layerwise.app.demo` -- the demo's deconvolutional section;
* :mod:`~layerwise.app.commands` -- what each ``layerwise`` command does (:mod:`layerwise.cli`
  only parses the arguments).

Nothing in the package outside :mod:`layerwise.cli` imports this package.
"""
