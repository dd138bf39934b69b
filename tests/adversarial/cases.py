"""Every adversarial case, generated: bad models x commands, bad data files and arguments, user loaders that
misbehave, hostile run directories for ``report``, path collisions, a full disk (RLIMIT_FSIZE).

``all_cases()`` is the full suite (>= 500, marked slow); ``fast_sample()`` a deterministic ~60 of them.
Signals and two processes on one ``--out`` need real processes: they are in test_processes.py.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np

from tests.adversarial import models as M
from tests.adversarial.harness import Case

USAGE = frozenset({2})
FAIL = frozenset({1})
ANY = frozenset({0, 1, 2, 3})
RAN = frozenset({0, 1})  # ran to a verdict
MEM_CAP = 3 << 30  # lying sizes: the child may add 3 GiB of address space; a real allocation of them fails


def _write(files: dict[str, bytes]):
    def setup(tmp: Path) -> None:
        for name, data in files.items():
            p = tmp / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    return setup


def _chain(*setups):
    def setup(tmp: Path) -> None:
        for s in setups:
            s(tmp)
    return setup


# --- bad models x commands ----------------------------------------------------------------------------------

def _commands(model: str, tag: str, trt: bool) -> list[tuple[str, list[str], tuple]]:
    """(name, argv, outputs) of the commands each bad model goes through."""
    cmds = [("inspect", ["inspect", model], ()),
            ("compare", ["compare", model, "--target", "onnxrt:fp16", "--out", f"run_{tag}", "--no-report", "-q"],
             (f"run_{tag}",)),
            ("fold", ["surgeon", model, "--fold-constants", "-o", f"out_{tag}.onnx", "--run-dir", f"srun_{tag}",
                      "-q"], (f"out_{tag}.onnx", f"srun_{tag}"))]
    if trt:
        cmds.append(("check", ["check", model, "--out", f"crun_{tag}", "-q"], ()))
    return cmds


def model_cases() -> list[Case]:
    cases = []
    variants: list[tuple[str, dict[str, bytes], frozenset, str | None, bool]] = []
    for base in M.BASES:
        data = M.base_bytes(base)
        variants += [(f"{base}-{k}", {"m.onnx": v}, ANY, None, False) for k, v in M.truncations(data).items()]
        variants += [(f"{base}-{k}", {"m.onnx": v}, ANY, None, False)
                     for k, v in M.byte_flips(data, 12, seed=len(base)).items()]
    for name, (_factory, extra) in M.STRUCTURAL.items():
        files = {"m.onnx": M.structural_bytes(name), **extra}
        says = M.REFUSED.get(name)
        codes = USAGE if says else ANY
        variants.append((name, files, codes, says, True))
    variants += [("empty", {"m.onnx": b""}, USAGE, "empty", True),
                 ("text", {"m.onnx": b"this is not a model\n"}, USAGE, None, False),
                 ("zip", {"m.onnx": b"PK\x03\x04" + b"\0" * 60}, USAGE, None, False),
                 ("npz_as_model", {"m.onnx": _npz_bytes({"x": np.zeros(3)})}, USAGE, None, False)]
    for vid, files, codes, says, trt in variants:
        for cname, argv, outputs in _commands("m.onnx", "t", trt):
            c, say = codes, says
            if cname == "inspect" and codes is ANY:
                c = frozenset({0, 2})
            if vid in ("input_2pow40", "input_3e5e5") and cname == "compare":
                c, say = USAGE, "needs ~"  # the memory estimate refuses before allocating
            cap = MEM_CAP if vid.startswith(("lie_", "input_2pow40", "input_3e5e5")) else None
            cases.append(Case(f"model/{vid}/{cname}", argv, _write(files), c, protect=tuple(files),
                              outputs=outputs, says=say if c == USAGE else None, family="models", mem_cap=cap))
    return cases


def special_model_paths() -> list[Case]:
    """The model argument is not a plain file."""
    def fifo(tmp):
        os.mkfifo(tmp / "m.onnx")

    def devzero(tmp):
        (tmp / "m.onnx").symlink_to("/dev/zero")

    def folder(tmp):
        (tmp / "m.onnx").mkdir()

    out = []
    for name, setup in (("fifo", fifo), ("devzero", devzero), ("folder", folder), ("missing", None)):
        for cmd in (["inspect", "m.onnx"], ["compare", "m.onnx", "--target", "reference", "--out", "r", "-q"],
                    ["check", "m.onnx", "--out", "r", "-q"]):
            out.append(Case(f"modelpath/{name}/{cmd[0]}", cmd, setup, USAGE, outputs=("r",), family="models"))
    return out


# --- data files, arguments, loaders -------------------------------------------------------------------------

def _npz_bytes(arrays: dict, compressed: bool = False) -> bytes:
    import io

    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def _lying_npz() -> bytes:
    """An npz whose x.npy header declares [1, 2**40] floats and holds 16 bytes."""
    import io
    import zipfile

    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 4), np.float32))
    header["shape"] = (1, 2**40)
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    npy.write(b"\0" * 16)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.npy", npy.getvalue())
    return buf.getvalue()


@functools.cache
def npz_variants() -> dict[str, tuple[bytes, frozenset, str | None]]:
    x = np.ones((1, 4), np.float32)
    good = _npz_bytes({"x": x})
    return {
        "ok": (good, RAN, None),
        "ok_compressed": (_npz_bytes({"x": x}, True), RAN, None),
        "ok_two_samples": (_npz_bytes({"0/x": x, "1/x": x * 2}), RAN, None),
        "float64": (_npz_bytes({"x": x.astype(np.float64)}), RAN, None),
        "int": (_npz_bytes({"x": x.astype(np.int32)}), RAN, None),
        "nan": (_npz_bytes({"x": np.full((1, 4), np.nan, np.float32)}), RAN, None),
        "inf": (_npz_bytes({"x": np.full((1, 4), np.inf, np.float32)}), RAN, None),
        "strings": (_npz_bytes({"x": np.array([["a", "b", "c", "d"]])}), USAGE, "expects float"),
        "complex": (_npz_bytes({"x": x.astype(np.complex64)}), USAGE, "expects float"),
        "object": (_npz_bytes({"x": np.array([[1, "a", None, 2.0]], dtype=object)}), USAGE, None),
        "bytes_S": (_npz_bytes({"x": np.array([[b"a", b"b", b"c", b"d"]])}), USAGE, "expects float"),
        "wrong_shape": (_npz_bytes({"x": np.ones((2, 3), np.float32)}), USAGE, "shape"),
        "wrong_rank": (_npz_bytes({"x": np.ones(4, np.float32)}), USAGE, "shape"),
        "missing_input": (_npz_bytes({"other": x}), USAGE, "no data"),
        "empty_npz": (_npz_bytes({}), USAGE, None),
        "truncated": (good[: len(good) // 2], USAGE, None),
        "garbage": (b"\x00\x01garbage" * 10, USAGE, None),
        "empty_file": (b"", USAGE, None),
        "lying_header": (_lying_npz(), USAGE, "declares shape"),
        "structured": (_npz_bytes({"x": np.zeros((1, 4), dtype=[("a", "f4")])}), USAGE, None),
        "timedelta": (_npz_bytes({"x": np.zeros((1, 4), dtype="m8[s]")}), USAGE, None),
    }


def data_cases() -> list[Case]:
    cases = []
    model = {"m.onnx": M.base_bytes("add")}
    for name, (data, codes, says) in npz_variants().items():
        files = {**model, "feeds.npz": data}
        for cmd in (["compare", "m.onnx", "--target", "onnxrt:fp16", "--load-inputs", "feeds.npz", "--out", "r",
                     "--no-report", "-q"],
                    ["surgeon", "m.onnx", "--fold-constants", "--load-inputs", "feeds.npz", "-o", "o.onnx",
                     "--run-dir", "s", "-q"]):
            cases.append(Case(f"data/{name}/{cmd[0]}", cmd, _write(files), codes, protect=tuple(files),
                              outputs=("r", "o.onnx", "s"), says=says, family="data"))
    return cases


ARGS = {
    "val_range_1e308": (["--val-range", "[-1e308,1e308]"], USAGE, "finite"),
    "val_range_1e400": (["--val-range", "[1e400,1e401]"], USAGE, "finite"),
    "val_range_nan": (["--val-range", "[nan,1]"], USAGE, None),
    "val_range_inf": (["--val-range", "[-inf,inf]"], USAGE, None),
    "val_range_reversed": (["--val-range", "[1,0]"], USAGE, None),
    "val_range_words": (["--val-range", "[a,b]"], USAGE, None),
    "val_range_e": (["--val-range", "[e,e]"], USAGE, None),
    "val_range_fp32max": (["--val-range", "[-1e39,1e39]"], USAGE, None),
    "val_range_ok_big": (["--val-range", "[-1e30,1e30]"], RAN, None),
    "val_range_unknown": (["--val-range", "nope:[0,1]"], USAGE, None),
    "seed_neg": (["--seed", "-1"], USAGE, "seed"),
    "seed_huge": (["--seed", str(2**70)], RAN, None),
    "seed_text": (["--seed", "x"], USAGE, None),
    "samples_0": (["--samples", "0"], USAGE, None),
    "samples_neg": (["--samples", "-3"], USAGE, None),
    "shape_2pow40": (["--input-shapes", f"x:1x{2**40}"], USAGE, None),
    "shape_zero": (["--input-shapes", "x:1x0"], USAGE, None),
    "shape_rank": (["--input-shapes", "x:1x4x4"], USAGE, None),
    "shape_garbage": (["--input-shapes", "x:lots"], USAGE, None),
    "shape_unknown": (["--input-shapes", "q:1x4"], USAGE, None),
    "atol_neg": (["--atol", "-1"], ANY, None),
    "atol_text": (["--atol", "big"], USAGE, None),
    "warmup_neg": (["--warmup", "-5"], RAN, None),
    "unknown_flag": (["--no-such-flag"], USAGE, None),
    "target_unknown": (["--target", "nosuch"], frozenset({2, 3}), None),
    "target_bad_opt": (["--target", "onnxrt:fp99"], frozenset({2, 3}), None),
}


def arg_cases() -> list[Case]:
    cases = []
    for base, shape_ok in (("add", True), ("gather", False)):
        files = {"m.onnx": M.base_bytes(base)}
        for name, (extra, codes, says) in ARGS.items():
            if not shape_ok and name.startswith(("shape_", "val_range_unknown")):
                continue
            if base == "gather" and name.startswith("val_range_") and codes == USAGE and says is None:
                continue
            argv = ["compare", "m.onnx", "--out", "r", "--no-report", "-q", *extra]
            if "--target" not in extra:
                argv += ["--target", "onnxrt:fp16"]
            cases.append(Case(f"args/{base}/{name}", argv, _write(files), codes, protect=("m.onnx",),
                              outputs=("r",), says=says, family="args"))
    return cases


LOADERS = {
    "system_exit": ("import sys\ndef load():\n    sys.exit(0)\n", USAGE, "SystemExit"),
    "system_exit_3": ("import sys\ndef load():\n    raise SystemExit(3)\n", USAGE, "SystemExit"),
    "exit_at_import": ("import sys\nsys.exit(0)\ndef load():\n    pass\n", USAGE, None),
    "raises": ("def load():\n    raise RuntimeError('boom')\n", USAGE, "RuntimeError"),
    "hangs": ("import time\ndef load():\n    time.sleep(3600)\n", USAGE, "loader-timeout"),
    "busy": ("def load():\n    while True:\n        pass\n", USAGE, "loader-timeout"),
    "hangs_in_generator": ("import time, numpy as np\ndef load():\n    yield {'x': np.ones((1,4), np.float32)}\n"
                           "    time.sleep(3600)\n", USAGE, "loader-timeout"),
    "catches_everything": ("import time\ndef load():\n    try:\n        time.sleep(3600)\n    except Exception:\n"
                           "        pass\n", USAGE, "loader-timeout"),
    "not_dict": ("def load():\n    yield [1, 2, 3]\n", USAGE, None),
    "no_samples": ("def load():\n    return []\n", USAGE, None),
    "wrong_dtype": ("import numpy as np\ndef load():\n    yield {'x': np.array([['a','b','c','d']])}\n", USAGE, None),
    "complex": ("import numpy as np\ndef load():\n    yield {'x': np.ones((1,4), np.complex64)}\n", USAGE, None),
    "objects": ("def load():\n    yield {'x': object()}\n", USAGE, None),
    "syntax": ("def load(:\n", USAGE, None),
    "no_function": ("x = 1\n", USAGE, None),
    "ok": ("import numpy as np\ndef load():\n    yield {'x': np.ones((1,4), np.float32)}\n", RAN, None),
}


def loader_cases() -> list[Case]:
    cases = []
    for name, (src, codes, says) in LOADERS.items():
        files = {"m.onnx": M.base_bytes("add"), "loader.py": src.encode()}
        argv = ["compare", "m.onnx", "--target", "onnxrt:fp16", "--data-loader-script", "loader.py:load",
                "--loader-timeout", "0.5", "--out", "r", "--no-report", "-q"]
        cases.append(Case(f"loader/{name}", argv, _write(files), codes, protect=tuple(files), outputs=("r",),
                          says=says, family="loaders"))
    return cases


# --- hostile run directories for `trtlab report` ------------------------------------------------------------

@functools.cache
def template_runs() -> dict[str, Path]:
    """Real run directories (compare, check, surgeon) made once per session, copied by each case."""
    import contextlib
    import io
    import tempfile

    from trtlab.cli.main import main

    root = Path(tempfile.mkdtemp(prefix="trtlab-adv-runs-"))
    (root / "m.onnx").write_bytes(M.base_bytes("fold"))
    runs = {"compare": ["compare", "m.onnx", "--target", "onnxrt:fp16", "--no-report", "-q", "--out"],
            "layerwise": ["compare", "m.onnx", "--target", "onnxrt:fp16", "--layerwise", "--save-outputs",
                          "--no-report", "-q", "--out"],
            "check": ["check", "m.onnx", "-q", "--out"],
            "surgeon": ["surgeon", "m.onnx", "--fold-constants", "-q", "--run-dir"]}
    out = {}
    cwd = os.getcwd()
    try:
        os.chdir(root)
        for name, argv in runs.items():
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                rc = main([*argv, name])
            if rc in (0, 1) and (root / name / "results.json").is_file():
                out[name] = root / name
    finally:
        os.chdir(cwd)
    return out


WRONG = {"null": None, "str": "x", "num": 7, "list": [1, "a"], "obj": {"a": {"b": []}}, "neg": -1e308}


def _copy_run(kind: str):
    def setup(tmp: Path) -> None:
        import shutil

        shutil.copytree(template_runs()[kind], tmp / "run")
    return setup


def _mutate_results(fn):
    def setup(tmp: Path) -> None:
        p = tmp / "run" / "results.json"
        res = json.loads(p.read_text())
        res = fn(res)
        p.write_text(json.dumps(res) if not isinstance(res, str) else res)
    return setup


def _set_key(key, value):
    def fn(res):
        res[key] = value
        return res
    return fn


def _set_nested(key, value):
    """Every element of a list field (or every value of a dict field) replaced."""
    def fn(res):
        v = res.get(key)
        if isinstance(v, list):
            res[key] = [value for _ in v] or [value]
        elif isinstance(v, dict):
            res[key] = {k: value for k in v} or {"k": value}
        return res
    return fn


def _file_setups() -> dict[str, tuple[object, frozenset]]:
    def as_folder(tmp):
        p = tmp / "run" / "results.json"
        p.unlink()
        p.mkdir()

    def fifo(tmp):
        p = tmp / "run" / "results.json"
        p.unlink()
        os.mkfifo(p)

    def devzero(tmp):
        p = tmp / "run" / "results.json"
        p.unlink()
        p.symlink_to("/dev/zero")

    def deep(tmp):
        (tmp / "run" / "results.json").write_text("[" * 100000 + "]" * 100000)

    def deep_obj(tmp):
        (tmp / "run" / "results.json").write_text('{"a":' * 50000 + "1" + "}" * 50000)

    def npz_garbage(tmp):
        for p in (tmp / "run").glob("*.npz"):
            p.write_bytes(b"PK\x03\x04garbage")

    def npz_nan(tmp):
        for p in (tmp / "run").glob("*.npz"):
            with np.load(p) as z:
                arrays = {k: np.full_like(z[k], np.nan) if z[k].dtype.kind == "f" else z[k] for k in z.files}
            np.savez(p, **arrays)

    def npz_folder(tmp):
        for p in list((tmp / "run").glob("*.npz")):
            p.unlink()
            p.mkdir()

    def npz_fifo(tmp):
        for p in list((tmp / "run").glob("*.npz")):
            p.unlink()
            os.mkfifo(p)

    def npz_devzero(tmp):
        for p in list((tmp / "run").glob("*.npz")):
            p.unlink()
            p.symlink_to("/dev/zero")

    def npz_lying(tmp):
        for p in (tmp / "run").glob("*.npz"):
            p.write_bytes(_lying_npz())

    def binary(tmp):
        (tmp / "run" / "results.json").write_bytes(bytes(range(256)) * 4)

    def empty(tmp):
        (tmp / "run" / "results.json").write_bytes(b"")

    def no_results(tmp):
        (tmp / "run" / "results.json").unlink()

    def huge_string(tmp):
        (tmp / "run" / "results.json").write_text(json.dumps({"schema": "trtlab.compare/1", "x": "a" * 10**6}))

    def files_key_traversal(tmp):
        p = tmp / "run" / "results.json"
        res = json.loads(p.read_text())
        res["files"] = {k: "../../../../etc/passwd" for k in (res.get("files") or {"inputs": 1})}
        p.write_text(json.dumps(res))

    def report_is_folder(tmp):
        (tmp / "run" / "report.html").mkdir()

    return {"as_folder": (as_folder, USAGE), "fifo": (fifo, USAGE), "devzero": (devzero, USAGE),
            "deep_list": (deep, USAGE), "deep_obj": (deep_obj, USAGE), "npz_garbage": (npz_garbage, frozenset({0, 2})),
            "npz_nan": (npz_nan, frozenset({0, 2})), "npz_folder": (npz_folder, frozenset({0, 2})),
            "npz_fifo": (npz_fifo, frozenset({0, 2})), "npz_devzero": (npz_devzero, frozenset({0, 2})),
            "npz_lying": (npz_lying, frozenset({0, 2})), "binary": (binary, USAGE), "empty": (empty, USAGE),
            "no_results": (no_results, USAGE), "huge_string": (huge_string, frozenset({0, 2})),
            "files_traversal": (files_key_traversal, frozenset({0, 2})),
            "report_is_folder": (report_is_folder, USAGE)}


RESULT_KEYS = {
    "compare": ["schema", "outputs", "layers", "passed", "samples", "timing", "ref", "target", "tolerances",
                "warnings", "files", "model", "first_divergence", "environment", "argv"],
    "check": ["schema", "nodes", "partitions", "errors", "module", "model", "parseable", "timing", "warnings"],
    "surgeon": ["schema", "passes", "steps", "model", "output", "warnings", "verify", "timing"],
}


def report_cases() -> list[Case]:
    cases = []
    for kind in ("compare", "check", "surgeon", "layerwise"):
        for name, (setup, codes) in _file_setups().items():
            if kind == "layerwise" and not name.startswith("npz"):
                continue
            argv = ["report", "run"] if name == "report_is_folder" else ["report", "run", "-o", "r.html"]
            cases.append(Case(f"report/{kind}/{name}", argv, _chain(_copy_run(kind), setup), codes,
                              outputs=("r.html",), family="rundirs"))
        for key in RESULT_KEYS.get(kind, []):
            for wname in ("null", "str", "list", "obj"):
                cases.append(Case(f"report/{kind}/{key}={wname}", ["report", "run", "-o", "r.html"],
                                  _chain(_copy_run(kind), _mutate_results(_set_key(key, WRONG[wname]))),
                                  frozenset({0, 2}), outputs=("r.html",), family="rundirs"))
            if key in ("outputs", "layers", "nodes", "warnings", "passes", "steps"):
                for wname in ("null", "num"):
                    cases.append(Case(f"report/{kind}/{key}[*]={wname}", ["report", "run", "-o", "r.html"],
                                      _chain(_copy_run(kind), _mutate_results(_set_nested(key, WRONG[wname]))),
                                      frozenset({0, 2}), outputs=("r.html",), family="rundirs"))
        if kind in RESULT_KEYS:
            for top in ("null", "str", "list", "num"):
                cases.append(Case(f"report/{kind}/top={top}", ["report", "run"],
                                  _chain(_copy_run(kind), _mutate_results(
                                      lambda res, v=WRONG[top]: v if not isinstance(v, str) else json.dumps(v))),
                                  USAGE, family="rundirs"))
    return cases


# --- path collisions ----------------------------------------------------------------------------------------

def collision_cases() -> list[Case]:
    files = {"m.onnx": M.base_bytes("add"), "feeds.npz": npz_variants()["ok"][0],
             "loader.py": LOADERS["ok"][0].encode()}
    long = "n" * 300
    specs = [
        ("save_inputs_is_model", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "m.onnx"]),
        ("save_inputs_is_feeds", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--load-inputs", "feeds.npz",
                                  "--save-inputs", "feeds.npz"]),
        ("save_inputs_is_loader", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--data-loader-script",
                                   "loader.py:load", "--save-inputs", "loader.py"]),
        ("save_inputs_hardlink", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "hard.onnx"]),
        ("save_inputs_symlink", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "link.onnx"]),
        ("save_inputs_dotdot", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "sub/../m.onnx"]),
        ("out_holds_model", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--out", "."]),
        ("out_holds_feeds", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--load-inputs", "feeds.npz", "--out",
                             "."]),
        ("out_is_file", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--out", "feeds.npz"]),
        ("out_under_file", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--out", "m.onnx/run"]),
        ("out_long", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--out", long]),
        ("save_inputs_long", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", long + ".npz"]),
        ("save_inputs_folder", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "sub"]),
        ("save_inputs_under_file", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs",
                                    "m.onnx/x.npz"]),
        # never /dev/null itself: run as root by code that failed this check, a rename would replace the device
        ("save_inputs_link_to_devnull", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs",
                                         "null.npz"]),
        ("save_inputs_fifo", ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "fifo.npz"]),
        ("surgeon_o_model", ["surgeon", "m.onnx", "--fold-constants", "-o", "m.onnx"]),
        ("surgeon_o_hardlink", ["surgeon", "m.onnx", "--fold-constants", "-o", "hard.onnx"]),
        ("surgeon_o_symlink", ["surgeon", "m.onnx", "--fold-constants", "-o", "link.onnx"]),
        ("surgeon_o_feeds", ["surgeon", "m.onnx", "--fold-constants", "--load-inputs", "feeds.npz", "-o",
                             "feeds.npz"]),
        ("surgeon_save_inputs_is_o", ["surgeon", "m.onnx", "--fold-constants", "-o", "o.onnx", "--save-inputs",
                                      "o.onnx"]),
        ("surgeon_o_long", ["surgeon", "m.onnx", "--fold-constants", "-o", long + ".onnx"]),
        ("surgeon_rundir_here", ["surgeon", "m.onnx", "--fold-constants", "--run-dir", "."]),
        ("build_o_model", ["build", "m.onnx", "-o", "m.onnx"]),
        ("build_o_provenance_model", ["build", "e.json", "-o", "e"]),
        ("build_triton_under_file", ["build", "m.onnx", "-o", "e.engine", "--triton-repo", "m.onnx/repo"]),
        ("build_triton_is_file", ["build", "m.onnx", "-o", "e.engine", "--triton-repo", "feeds.npz"]),
        ("build_o_long", ["build", "m.onnx", "-o", long]),
        ("report_o_results", ["report", "run", "-o", "run/results.json"]),
        ("report_o_npz", ["report", "run", "-o", "run/inputs.npz"]),
        ("report_o_folder", ["report", "run", "-o", "run"]),
        ("report_o_long", ["report", "run", "-o", long + ".html"]),
        ("reduce_o_model", ["debug", "reduce", "m.onnx", "--fails", "compare", "--target", "onnxrt:fp16", "-o",
                            "m.onnx"]),
        ("reduce_o_feeds", ["debug", "reduce", "m.onnx", "--fails", "compare", "--target", "onnxrt:fp16",
                            "--load-inputs", "feeds.npz", "-o", "feeds.npz"]),
        ("reduce_o_inputs_feeds", ["debug", "reduce", "m.onnx", "--fails", "compare", "--target", "onnxrt:fp16",
                                   "--load-inputs", "feeds.inputs.npz", "-o", "feeds.onnx"]),
        ("example_o_folder", ["example", "add", "-o", "sub"]),
        ("example_o_long", ["example", "add", "-o", long + ".onnx"]),
    ]

    def extra(tmp):
        (tmp / "sub").mkdir(exist_ok=True)
        os.link(tmp / "m.onnx", tmp / "hard.onnx")
        (tmp / "link.onnx").symlink_to("m.onnx")
        (tmp / "feeds.inputs.npz").write_bytes(npz_variants()["ok"][0])
        (tmp / "e.json").write_bytes(M.base_bytes("add"))  # a model named e.json: `-o e` writes e + .json
        (tmp / "null.npz").symlink_to("/dev/null")
        os.mkfifo(tmp / "fifo.npz")

    cases = []
    for name, argv in specs:
        setup = _chain(_write(files), extra)
        if argv[0] == "report":
            setup = _chain(setup, _copy_run("compare"))
        protect = ("m.onnx", "feeds.npz", "loader.py", "hard.onnx", "feeds.inputs.npz", "e.json")
        codes = frozenset({2, 3}) if argv[0] == "build" else USAGE
        cases.append(Case(f"paths/{name}", [*argv, "-q"] if argv[0] != "report" else argv, setup, codes,
                          protect=protect, family="paths"))
    return cases


# --- a full disk --------------------------------------------------------------------------------------------

def disk_cases() -> list[Case]:
    files = {"m.onnx": M.base_bytes("fold")}
    cmds = {"compare": ["compare", "m.onnx", "--target", "onnxrt:fp16", "--out", "r", "-q"],
            "save_inputs": ["compare", "m.onnx", "--target", "onnxrt:fp16", "--save-inputs", "in.npz", "--out",
                            "r", "--no-report", "-q"],
            "surgeon": ["surgeon", "m.onnx", "--fold-constants", "-o", "o.onnx", "--run-dir", "s", "-q"],
            "example": ["example", "add", "-o", "e.onnx"],
            "check": ["check", "m.onnx", "--out", "r", "-q"]}
    cases = []
    for name, argv in cmds.items():
        for size in (0, 64, 700, 4096):
            cases.append(Case(f"disk/{name}/{size}", argv, _write(files), frozenset({0, 2}), protect=("m.onnx",),
                              outputs=("r", "o.onnx", "s", "e.onnx", "in.npz"), fsize=size, family="disk"))
    return cases


# --- everything ---------------------------------------------------------------------------------------------

@functools.cache
def all_cases() -> tuple[Case, ...]:
    cases = (model_cases() + special_model_paths() + data_cases() + arg_cases() + loader_cases() + report_cases()
             + collision_cases() + disk_cases())
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return tuple(cases)


def fast_sample(n: int = 60) -> tuple[Case, ...]:
    """A deterministic spread: the cases every regression test names, then every k-th of the rest."""
    cases = all_cases()
    must = [c for c in cases if c.id in FAST_MUST]
    rest = [c for c in cases if c.id not in FAST_MUST]
    step = max(len(rest) // max(n - len(must), 1), 1)
    return tuple(must + rest[::step][: max(n - len(must), 0)])


FAST_MUST = {
    "paths/save_inputs_is_model", "model/loop_outer_read/check", "model/lie_init_1e9/compare",
    "model/input_2pow40/compare", "model/input_3e5e5/compare", "model/elem999_input/compare",
    "data/strings/compare", "data/complex/compare", "args/add/val_range_1e308", "args/add/val_range_1e400",
    "args/add/seed_neg", "paths/out_long", "paths/build_triton_under_file", "disk/compare/700",
    "report/compare/as_folder", "report/compare/fifo", "report/compare/devzero", "report/compare/deep_list",
    "report/layerwise/npz_garbage", "report/compare/outputs=str", "model/dangling_output/fold", "model/cycle/fold",
    "loader/system_exit", "loader/hangs", "model/ext_traversal/inspect",
}
