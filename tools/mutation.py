"""Mutation run for docs/mutation.md: mutmut 2's mutants, one forked pytest run per mutant.

    python tools/mutation.py comparators/metrics.py comparators/tolerances.py --tests tests/comparators
    python tools/mutation.py trtlab/comparison/run.py:34-42,70-82 --tests tests/comparison/test_verdict.py \
        -k "not end_to_end" --json verdict.json

Mutants come from ``mutmut`` 2.x (``pip install "mutmut<3"``: its operator set, ``list_mutations``/``mutate``);
instead of starting an interpreter per mutant (mutmut's own runner), the parent imports numpy, onnx, pytest and
hypothesis once and forks a child per mutant, which writes the mutant, drops ``trtlab``/``tests`` from
``sys.modules`` and runs pytest. The file is restored after every child. Run it in a scratch copy of the
repository (it rewrites source files while it runs), with the package importable from that copy.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True


def _targets(specs: list[str]) -> list[tuple[str, set[int] | None]]:
    out = []
    for spec in specs:
        path, _, ranges = spec.partition(":")
        lines = None
        if ranges:
            lines = set()
            for part in ranges.split(","):
                a, _, b = part.partition("-")
                lines.update(range(int(a), int(b or a) + 1))
        out.append((path, lines))
    return out


def _run_child(path: str, source: str, pytest_args: list[str], timeout: int) -> int:
    pid = os.fork()
    if pid == 0:
        import pytest

        signal.alarm(timeout)
        with open(path, "w") as f:
            f.write(source)
        for name in list(sys.modules):
            if name == "trtlab" or name.startswith(("trtlab.", "tests")):
                del sys.modules[name]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os._exit(int(pytest.main(pytest_args)))
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("targets", nargs="+", help="FILE or FILE:A-B,C-D (1-based line ranges)")
    ap.add_argument("--tests", nargs="+", required=True)
    ap.add_argument("-k", default=None)
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import hypothesis  # noqa: F401  (imported once, shared by every child)
    import numpy  # noqa: F401
    import onnx  # noqa: F401
    import pytest  # noqa: F401
    from mutmut import Context, list_mutations, mutate

    pytest_args = ["-x", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=0", *args.tests]
    if args.k:
        pytest_args += ["-k", args.k]
    assert _run_child(*_baseline(args.targets[0]), pytest_args, args.timeout) == 0, "tests fail without mutants"
    results = []
    for path, lines in _targets(args.targets):
        original = open(path).read()
        ids = [m for m in list_mutations(Context(source=original, filename=path))
               if lines is None or m.line_number + 1 in lines]
        try:
            for mid in ids:
                mutant, n = mutate(Context(source=original, mutation_id=mid, filename=path))
                if n == 0 or mutant == original:
                    continue
                t0 = time.time()
                code = _run_child(path, mutant, pytest_args, args.timeout)
                status = "killed" if code != 0 else "survived"
                results.append({"file": path, "line": mid.line_number + 1, "index": mid.index,
                                "source": mid.line.strip(), "mutant": _changed_line(original, mutant),
                                "status": status, "exit": code, "seconds": round(time.time() - t0, 2)})
                print(f"{status:9} {path}:{mid.line_number + 1} {results[-1]['mutant']}", flush=True)
        finally:
            with open(path, "w") as f:
                f.write(original)
    killed = sum(r["status"] == "killed" for r in results)
    print(f"{killed}/{len(results)} killed ({100 * killed / max(len(results), 1):.1f}%)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def _baseline(target: str) -> tuple[str, str]:
    path = target.partition(":")[0]
    return path, open(path).read()


def _changed_line(a: str, b: str) -> str:
    for x, y in zip(a.split("\n"), b.split("\n")):
        if x != y:
            return y.strip()
    return "(lines added or removed)"


if __name__ == "__main__":
    sys.exit(main())
