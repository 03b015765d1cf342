"""Validation in git pre-commit hooks: the pre-commit framework's entry and a native git hook.

``run_hook`` is what both run (through `datakeep hook run`); ``install``/``uninstall`` manage
the native hook. Nothing here imports pandas, pyarrow or pandera until a file must really be
validated, so a commit whose files are all cached costs a fraction of a second.
"""

from __future__ import annotations

from datakeep.hook.install import InstallResult, UninstallResult, install, uninstall
from datakeep.hook.run import FileResult, HookResult, run_hook, staged_files, tracked_files

__all__ = [
    "FileResult",
    "HookResult",
    "InstallResult",
    "UninstallResult",
    "install",
    "run_hook",
    "staged_files",
    "tracked_files",
    "uninstall",
]
