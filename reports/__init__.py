"""HTML reports rebuilt from a saved run directory (installed as ``trtlab.reports``)."""


def write_report(run_dir):
    """Render ``run_dir/report.html`` from the run's saved JSON and npz files."""
    raise NotImplementedError("reports are not implemented yet")
