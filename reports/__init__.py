"""HTML reports rebuilt from a saved run directory (installed as ``trtlab.reports``).

A report is a pure function of the run directory (results.json + .npz): no model, backend or GPU is needed, so
``trtlab report RUN_DIR`` rebuilds it anywhere. The renderer is chosen by results.json's ``schema``
(``trtlab.<kind>/<major>``) through the literal ``RENDERERS`` registry; any other trtlab schema gets the generic
renderer. A schema whose major version is newer than the one this trtlab understands is refused.

Matplotlib and the renderers are imported inside the functions, so importing this package stays light.
"""

from __future__ import annotations

from pathlib import Path

REPORT = "report.html"

# schema -> module (with ``render(results, run_dir) -> str``). Literal on purpose; the version is the major version
# this trtlab understands.
RENDERERS: dict[str, str] = {
    "trtlab.compare/1": "trtlab.reports.compare",
    "trtlab.surgeon/1": "trtlab.reports.surgeon",
    "trtlab.check/1": "trtlab.reports.trt",
    "trtlab.build/1": "trtlab.reports.trt",
    "trtlab.debug.reduce/1": "trtlab.reports.debug",
    "trtlab.partition/1": "trtlab.reports.debug",
    "trtlab.substitute/1": "trtlab.reports.substitute",
    "trtlab.sweep/1": "trtlab.reports.sweep",
    "trtlab.run/1": "trtlab.reports.run",
    "trtlab.diff/1": "trtlab.reports.engine_diff",
}
GENERIC = "trtlab.reports.generic"


def parse_schema(schema, where) -> tuple[str, int]:
    """``"trtlab.compare/1"`` -> ("trtlab.compare", 1); a clear error for anything that is not a trtlab schema."""
    from trtlab.errors import TrtlabError

    text = str(schema) if isinstance(schema, str) else ""
    name, _, version = text.partition("/")
    major = version.split(".", 1)[0]
    if not name.startswith("trtlab.") or not major.isdigit():
        raise TrtlabError(where, f"not a trtlab run (schema {schema!r})",
                          "pass a run directory written by a trtlab command")
    return name, int(major)


def renderer_for(schema, where) -> str:
    """The module that renders ``schema``; refuses a newer major version of a known schema."""
    from trtlab.errors import TrtlabError

    name, major = parse_schema(schema, where)
    known = {k.split("/")[0]: int(k.split("/")[1]) for k in RENDERERS}
    if name in known and major > known[name]:
        raise TrtlabError(where, f"written by a newer trtlab (schema {schema}; this trtlab reads {name}/"
                          f"{known[name]})", "upgrade trtlab to render this run")
    return RENDERERS.get(f"{name}/{major}", GENERIC)


def render_html(run_dir) -> str:
    """The report for ``run_dir`` as one self-contained HTML string."""
    import importlib

    from trtlab.errors import TrtlabError
    from trtlab.rundir import RESULTS, read_results

    run_dir = Path(run_dir)
    res = read_results(run_dir)
    if not isinstance(res, dict):
        raise TrtlabError(run_dir / RESULTS, "not a trtlab results file (top level is not an object)",
                          "pass a run directory written by a trtlab command")
    module = importlib.import_module(renderer_for(res.get("schema"), run_dir / RESULTS))
    from trtlab.reports.plots import reset_ids

    reset_ids()
    try:
        return module.render(res, run_dir)
    except TrtlabError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, IndexError, RecursionError, ZeroDivisionError,
            OverflowError) as exc:  # results.json of the right schema but the wrong shape: edited or damaged
        text = " ".join(str(exc).split())[:120]
        raise TrtlabError(run_dir / RESULTS, f"does not have the fields of its schema {res.get('schema')} "
                          f"({type(exc).__name__}: {text})", "the run was edited or damaged; rerun the command "
                          "that wrote it") from None


def report_path(run_dir, out=None) -> Path:
    """Where the report goes, checked before rendering: a writable file path, and inside the run directory only
    ``report.html`` (anything else there is the run itself: results.json, .npz arrays, models)."""
    from trtlab.errors import TrtlabError
    from trtlab.rundir import check_output_path

    run_dir = Path(run_dir)
    if out is None:
        return check_output_path(run_dir / REPORT, flag="report")
    path = check_output_path(out, flag="-o")
    target, root = path.resolve(), run_dir.resolve()
    if root in target.parents and target != root / REPORT:
        raise TrtlabError(f"-o {out}", "is inside the run directory and would overwrite or mix with the run's own "
                          "files", f"write to {run_dir / REPORT} (the default) or outside the run directory")
    return path


def write_report(run_dir, out=None) -> Path:
    """Render ``run_dir/report.html`` (or ``out``) from the run's saved JSON and npz files; return its path."""
    from trtlab.rundir import atomic_write_text

    path = report_path(run_dir, out)
    text = render_html(run_dir)
    return atomic_write_text(path, text)
