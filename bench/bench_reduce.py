"""``trtlab debug reduce`` versus ``polygraphy debug reduce`` on models with one unsupported node planted inside.

    python bench/bench_reduce.py [--models chain,dag,densenet] [--write docs/benchmarks.md]

Models (built here): ``chain`` 1001 unary ops, ``dag`` 240 diamond blocks (Constant, Mul, Relu, Sigmoid, Add, Clip
with an empty optional input, If reading an outer-scope tensor), both with a com.acme op in the middle
(``dag-nonzero``: a NonZero side branch instead, a standard op that onnxruntime runs and tensorrt_rtx cannot parse);
``densenet`` is ../shared/models/light_densenet121.onnx with its middle Relu replaced by a com.acme op.
The planted op's outputs are declared in value_info, as exporters do, so that Polygraphy's shape inference runs.

Per model, with the same check command for both tools (a Python script that parses with tensorrt_rtx and exits 1
when the parser refuses the model; it appends one line per call to a counter file, so the number of checks is
counted the same way for both):
- ``trtlab debug reduce --check CMD`` and ``polygraphy debug reduce --check CMD`` (POLYGRAPHY_USE_TENSORRT_RTX=1):
  checks, wall time (Python start-up included), nodes in the result, whether the planted node is in it;
- ``trtlab debug reduce --fails check``: the parser in-process, checks and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = ROOT.parent / "shared" / "models"
SECTION = "## debug reduce"

CHECK_SCRIPT = """import os, sys
import tensorrt_rtx as trt
with open(os.environ["REDUCE_COUNT"], "a") as f:
    f.write("1\\n")
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
network = builder.create_network(0)
parser = trt.OnnxParser(network, logger)
sys.exit(0 if parser.parse_from_file(sys.argv[1]) else 1)
"""


def densenet_planted() -> onnx.ModelProto:
    from onnx import helper as h

    model = onnx.load(str(MODELS / "light_densenet121.onnx"))
    relus = [n for n in model.graph.node if n.op_type == "Relu"]
    node = relus[len(relus) // 2]
    inferred = onnx.shape_inference.infer_shapes(model)
    vi = next(v for v in inferred.graph.value_info if v.name == node.output[0])
    node.domain, node.name, node.op_type = "com.acme", "planted", "PlantedRelu"
    model.opset_import.append(h.make_opsetid("com.acme", 1))
    model.graph.value_info.append(vi)
    return model


def build(name: str) -> onnx.ModelProto:
    from tests.debug.test_reduce import planted_chain, planted_dag

    builders = {"chain": planted_chain, "dag": planted_dag, "dag-nonzero": lambda: planted_dag(nonzero=True),
                "densenet": densenet_planted}
    return builders[name]()


def timed(cmd: list[str], cwd: Path, env: dict, timeout: int = 600) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return time.perf_counter() - start, proc.returncode, proc.stdout + proc.stderr


def reduced_nodes(path: Path) -> tuple[int | None, bool]:
    if not path.exists():
        return None, False
    m = onnx.load(str(path))
    return len(m.graph.node), any(n.name == "planted" for n in m.graph.node)


def run_one(name: str, work: Path) -> dict:
    model = build(name)
    path = work / f"{name}.onnx"
    onnx.save(model, str(path))
    script = work / "check_parse.py"
    script.write_text(CHECK_SCRIPT)
    bindir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), POLYGRAPHY_USE_TENSORRT_RTX="1")
    row = {"model": name, "nodes": len(model.graph.node)}
    tools = {
        "trtlab": ["trtlab", "debug", "reduce", str(path), "-o", str(work / f"{name}-trtlab.onnx"), "-q",
                   "--out", str(work / f"{name}-run-cmd"), "--check", f"{sys.executable} {script} {{model}}"],
        "polygraphy": ["polygraphy", "debug", "reduce", str(path), "-o", str(work / f"{name}-polygraphy.onnx"),
                       "--check", sys.executable, str(script), "polygraphy_debug.onnx"],
    }
    for tool, cmd in tools.items():
        counter = work / f"{name}-{tool}.count"
        env["REDUCE_COUNT"] = str(counter)
        wall, rc, text = timed(cmd, work, env)
        nodes, has = reduced_nodes(work / f"{name}-{tool}.onnx")
        checks = len(counter.read_text().splitlines()) if counter.exists() else 0
        row[tool] = {"rc": rc, "wall_s": round(wall, 2), "checks": checks, "nodes_after": nodes, "has_planted": has}
        if rc:
            row[tool]["error"] = text.strip().splitlines()[-1][:200] if text.strip() else ""
    wall, rc, text = timed(["trtlab", "debug", "reduce", str(path), "-o", str(work / f"{name}-inproc.onnx"),
                            "--fails", "check", "--json", "--out", str(work / f"{name}-run-inproc")], work, env)
    res = json.loads(text[text.index("{"):]) if rc == 0 else {}
    _nodes, has = reduced_nodes(work / f"{name}-inproc.onnx")
    row["trtlab_inprocess"] = {"rc": rc, "wall_s": round(wall, 2), "checks": res.get("checks", {}).get("total"),
                               "bisect": res.get("checks", {}).get("bisect"),
                               "budget": res.get("checks", {}).get("bisect_budget"),
                               "work_nodes": res.get("work_nodes_before"), "nodes_after": res.get("nodes_after"),
                               "reduce_s": res.get("timing", {}).get("total_s"), "has_planted": has}
    return row


def table(rows: list[dict]) -> str:
    lines = ["| model | nodes | tool | checks | wall s | nodes after | planted kept |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        for tool in ("polygraphy", "trtlab"):
            t = r[tool]
            lines.append(f"| {r['model']} | {r['nodes']} | {tool} --check | {t['checks']} | {t['wall_s']} | "
                         f"{t['nodes_after'] if t['nodes_after'] is not None else 'failed (rc ' + str(t['rc']) + ')'}"
                         f" | {'yes' if t['has_planted'] else 'no'} |")
        t = r["trtlab_inprocess"]
        lines.append(f"| {r['model']} | {r['nodes']} | trtlab --fails check | {t['checks']} (bisect {t['bisect']} "
                     f"of budget {t['budget']}, {t['work_nodes']} work nodes) | {t['wall_s']} (reduce "
                     f"{t['reduce_s']}) | {t['nodes_after']} | {'yes' if t['has_planted'] else 'no'} |")
    return "\n".join(lines)


def write_section(doc: Path, table_md: str) -> None:
    """Replace the table inside this benchmark's own section (its prose stays), or append the section at the end."""
    body = doc.read_text() if doc.exists() else ""
    if SECTION not in body:
        doc.write_text(body.rstrip() + f"\n\n{SECTION}\n\n" + table_md.rstrip() + "\n")
        return
    start = body.index(SECTION)
    nxt = body.find("\n## ", start + len(SECTION))
    end = nxt if nxt >= 0 else len(body)
    lines = body[start:end].split("\n")
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    if rows:
        lines[rows[0]: rows[-1] + 1] = table_md.rstrip().split("\n")
    else:
        lines += ["", table_md.rstrip()]
    doc.write_text(body[:start] + "\n".join(lines) + body[end:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="chain,dag,dag-nonzero,densenet")
    ap.add_argument("--write", metavar="DOC.md", help="replace the '## debug reduce' section of this file")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reduce-") as tmp:
        for name in args.models.split(","):
            rows.append(run_one(name, Path(tmp)))
            print(json.dumps(rows[-1]), flush=True)
    md = table(rows)
    print(md)
    if args.write:
        write_section(Path(args.write), md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
