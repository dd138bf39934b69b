"""A build progress display: TensorRT's ``IProgressMonitor`` phases shown as rich progress tasks."""

from __future__ import annotations


def monitor_factory(bar):
    """Return ``factory(trt) -> IProgressMonitor`` (or None when the module has none) drawing onto ``bar``."""

    def factory(trt):
        if not trt.features.get("progress_monitor"):
            return None
        base = trt.mod.IProgressMonitor

        class Monitor(base):
            def __init__(self):
                base.__init__(self)
                self.tasks: dict[str, int] = {}

            def phase_start(self, phase_name, parent_phase, num_steps):
                indent = "  " if parent_phase else ""
                self.tasks[phase_name] = bar.add_task(f"{indent}{phase_name}", total=max(int(num_steps), 1))

            def step_complete(self, phase_name, step):
                if phase_name in self.tasks:
                    bar.update(self.tasks[phase_name], completed=int(step) + 1)
                from trtlab.trt.contain import interrupted

                return not interrupted()  # False cancels the build (Ctrl-C arrived)

            def phase_finish(self, phase_name):
                task = self.tasks.pop(phase_name, None)
                if task is not None:
                    bar.update(task, visible=False)

        return Monitor()

    return factory
