"""A CSV cell no spreadsheet reads as a formula: what ``gradebook.csv`` and the LMS files (:mod:`.lms`) write.

A module of its own so that :mod:`.batch` and :mod:`.lms` share it without importing each other."""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as the start of a formula


def csv_cell(value):
    """A gradebook cell no spreadsheet reads as a formula: text starting with = + - @ or a tab or carriage return
    gets a leading apostrophe (as the written pages' download does); numbers stay numbers."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS \
            and not re.fullmatch(r"-?\d+(\.\d+)?", value):
        return "'" + value
    return value


def cell_text(cell: str) -> str:
    """A cell as it was typed: :func:`csv_cell`'s apostrophe (and the written pages' download's) taken off."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS else cell


__all__ = ["FORMULA_STARTS", "csv_cell", "cell_text"]
