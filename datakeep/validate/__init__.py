"""Validating data files against canonical schemas through source mappings (DESIGN.md §7).

Public API (stable; the core's commit and the pre-commit hook call these):
`validate_file`, `validate_frame`, `map_file`, `render_text`, `ValidationReport`, `Problem`.
"""

from __future__ import annotations

from datakeep.validate.engine import map_file, validate_file, validate_frame
from datakeep.validate.render import render_text
from datakeep.validate.report import (
    REPORT_FORMAT,
    REPORT_VERSION,
    Problem,
    Sample,
    ValidationReport,
    ValueCount,
)

__all__ = [
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "Problem",
    "Sample",
    "ValidationReport",
    "ValueCount",
    "map_file",
    "render_text",
    "validate_file",
    "validate_frame",
]
