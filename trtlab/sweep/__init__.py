"""Sweep: run trtlab commands over a model zoo and a configuration matrix, resumably, locally or on Ray.

Owns the spec (``spec``: models x tasks x axes expanded into self-contained cells, each keyed by the model's
sha256 and the exact command), running one cell (``cell``: a ``python -m trtlab`` child process with its own run
directory, its verdict read from the exit code), the journal (``journal``: one JSON line per finished cell,
the basis of ``--resume``), the executors (``executors``: a local pool, or Ray tasks with CPU/GPU/custom
resources) and the summary (``runner``: ``sweep.json``; the report page is rendered by ``trtlab.reports.sweep``).
"""
