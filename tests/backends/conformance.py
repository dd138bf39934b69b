"""The ONNX operator conformance cases (``onnx.backend.test.case.node.collect_testcases``: models with expected
outputs, from the installed onnx wheel) swept through trtlab's CPU backends.

For each case that onnxruntime (FP32) runs: ``onnxrt:fp16`` and ``onnxrt:bf16`` must run it too, or refuse it
with a one-line error that names the op; ``reference`` must match the stored expected outputs, or the mismatch
must be one trtlab flags (a known-inaccurate onnx.reference kernel, ``trtlab.comparison.settle``) or one listed
in ``REFERENCE_DISAGREES`` with the reason.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter

import numpy as np
import onnx
from onnx import numpy_helper

# case name prefix -> why onnx.reference's result differs from the stored expected output
REFERENCE_DISAGREES: dict[str, str] = {
    "test_bernoulli": "a random op: the stored output is one draw, any other draw is as valid",
    "test_range_bfloat16_type_positive_delta_expanded": "onnx.reference's Loop stacks the bfloat16 scan output "
                                                        "with an extra axis ((2, 1) for (2,)); onnxruntime cannot "
                                                        "run the model (no bfloat16 feeds) to compare",
}
HALF_TARGETS = ("onnxrt:fp16", "onnxrt:bf16")


def cases() -> list:
    from onnx.backend.test.case.node import collect_testcases

    return sorted(collect_testcases(None), key=lambda c: c.name)


def _feeds(case) -> dict | None:
    if not case.data_sets:
        return None
    inputs, _ = case.data_sets[0]
    names = [vi.name for vi in case.model.graph.input if vi.name not in {t.name for t in case.model.graph.initializer}]
    if len(inputs) != len(names) or not all(isinstance(a, np.ndarray) for a in inputs):
        return None  # sequences, optionals, maps: outside what trtlab compares
    return dict(zip(names, inputs))


def _ops(model) -> set[str]:
    from trtlab.model import walk_nodes

    return {n.op_type for n, _ in walk_nodes(model.graph)}


def _run(spec: str, model, feeds: dict) -> dict:
    from trtlab import backends

    with backends.create(backends.parse_spec(spec)) as b:
        b.load(model, None)
        return b.run(feeds)


def _close(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    if got.shape != want.shape:
        return False
    if want.dtype.kind in "fc":
        return bool(np.allclose(got.astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol,
                                equal_nan=True))
    return bool(np.array_equal(got, want))


def sweep_one(case) -> dict:
    """One case: {'name', 'ort': bool, 'half': {spec: 'ok' | 'refused: ...' | 'ERROR: ...'}, 'reference': ...}."""
    from trtlab.comparison.settle import known_issue
    from trtlab.errors import TrtlabError

    row = {"name": case.name, "ort": False, "half": {}, "reference": "skipped"}
    feeds = _feeds(case)
    if feeds is None:
        row["reference"] = "skipped: non-tensor inputs"
        return row
    try:
        _run("onnxrt", case.model, feeds)
        row["ort"] = True
    except Exception:  # noqa: BLE001 (what onnxruntime cannot run is out of scope for the half targets)
        pass
    ops = _ops(case.model)
    if row["ort"]:
        for spec in HALF_TARGETS:
            try:
                _run(spec, case.model, feeds)
                row["half"][spec] = "ok"
            except TrtlabError as exc:
                text = exc.format()
                one_line = "\n" not in text
                names_op = any(op in text for op in ops)
                row["half"][spec] = f"refused: {text}" if one_line and names_op else f"ERROR: {text}"
            except Exception as exc:  # noqa: BLE001
                row["half"][spec] = f"ERROR: {type(exc).__name__}: {exc}"
    expected = case.data_sets[0][1]
    try:
        got = _run("reference", case.model, feeds)
    except TrtlabError as exc:
        row["reference"] = f"refused: {exc.problem[:120]}"
        return row
    except Exception as exc:  # noqa: BLE001
        row["reference"] = f"ERROR: {type(exc).__name__}: {exc}"
        return row
    outs = [o.name for o in case.model.graph.output]
    if any(isinstance(w, (list, dict)) or w is None for w in expected):
        row["reference"] = "skipped: non-tensor outputs"
        return row
    expected = [numpy_helper.to_array(w) if isinstance(w, onnx.TensorProto) else np.asarray(w) for w in expected]
    agree = all(n in got and _close(got[n], w, case.rtol, case.atol) for n, w in zip(outs, expected))
    if agree:
        row["reference"] = "agrees"
    else:
        opset = max((o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx")), default=0)
        flagged = next((f"{op}: {known_issue(op, opset)}" for op in sorted(ops) if known_issue(op, opset)), None)
        listed = next((why for prefix, why in REFERENCE_DISAGREES.items() if case.name.startswith(prefix)), None)
        row["reference"] = f"flagged: {flagged}" if flagged else (f"listed: {listed}" if listed else "DISAGREES")
    return row


def _init_worker():
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import onnxruntime

    onnxruntime.set_default_logger_severity(4)  # the FP32 probe's refusals are expected: no log lines


def sweep(selected: list, workers: int = 2) -> list[dict]:
    if workers <= 1:
        return [sweep_one(c) for c in selected]
    with multiprocessing.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
        return pool.map(sweep_one, selected, chunksize=8)


def totals(rows: list[dict]) -> dict:
    t = Counter()
    for r in rows:
        t["cases"] += 1
        t["onnxruntime runs"] += r["ort"]
        for spec, status in r["half"].items():
            t[f"{spec} {status.split(':')[0]}"] += 1
        t[f"reference {r['reference'].split(':')[0]}"] += 1
    return dict(t)


def cached_cases(cache_dir) -> list:
    """``cases()`` as plain records, pickled under ``cache_dir`` per onnx version (collecting takes ~15 s)."""
    import pickle
    import types
    from pathlib import Path

    path = Path(cache_dir) / f"node-cases-onnx-{onnx.__version__}.pkl"
    if path.exists():
        try:
            return pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 (a stale or partial cache is rebuilt)
            pass
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = [types.SimpleNamespace(name=c.name, model=c.model, data_sets=c.data_sets, rtol=c.rtol,
                                         atol=c.atol) for c in cases()]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(records))
    tmp.replace(path)
    return records
