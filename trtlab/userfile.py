"""Importing a Python file the user names (a data loader, plugin rules): one place, one kind of error."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from trtlab.errors import TrtlabError


def import_user_file(path: Path, subject: str, prefix: str) -> ModuleType:
    """Import ``path`` as a fresh module; a failure is a one-line TrtlabError naming ``subject``."""
    path = Path(path)
    module_name = f"{prefix}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TrtlabError(subject, "not an importable Python file", "pass a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (KeyboardInterrupt, GeneratorExit):
        sys.modules.pop(module_name, None)
        raise
    except BaseException as exc:  # SystemExit too: a user file must not end trtlab silently
        sys.modules.pop(module_name, None)
        raise TrtlabError(subject, f"importing the file failed ({type(exc).__name__}: {exc})",
                          "run the file with python to see the error") from None
    return module
