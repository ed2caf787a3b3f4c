"""A CSV cell no spreadsheet reads as a formula: what ``gradebook.csv`` and the LMS files (:mod:`.lms`) write.

A module of its own so that :mod:`.batch` and :mod:`.lms` share it without importing each other."""

from __future__ import annotations

import re


def csv_cell(value):
    """A gradebook cell no spreadsheet reads as a formula: text starting with = + - @ or a tab or carriage return
    gets a leading apostrophe (as the written pages' download does); numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") \
            and not re.fullmatch(r"-?\d+(\.\d+)?", value):
        return "'" + value
    return value


__all__ = ["csv_cell"]
