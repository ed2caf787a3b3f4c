"""Imports deferred until they are used, for start-up time.

``nbformat`` imports ``jsonschema``, which imports ``rfc3987_syntax`` when it is installed (the Jupyter stack
pulls it in) only to check the JSON Schema formats ``iri`` and ``iri-reference``; importing it builds 38 Lark
parsers, 1.4 s of a 2.8 s start of each grader process (and of every tool that reads a notebook), and nothing in
the course checks an IRI. :func:`defer_rfc3987_syntax` puts a stand-in in its place whose one function imports
the real module at its first call, so the check still works as before for anyone who uses it.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def defer_rfc3987_syntax() -> None:
    name = "rfc3987_syntax"
    if name in sys.modules or importlib.util.find_spec(name) is None:
        return
    stand_in = types.ModuleType(name, "stand-in: the real module is imported at the first call (course_utils)")

    def is_valid_syntax(*args, **kwargs):
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        real = importlib.import_module(name)
        stand_in.is_valid_syntax = real.is_valid_syntax
        return real.is_valid_syntax(*args, **kwargs)

    def __getattr__(attr):  # any other public name: the real module, imported now
        if attr.startswith("__"):  # what the import system and inspect probe for
            raise AttributeError(attr)
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attr)

    stand_in.is_valid_syntax = is_valid_syntax
    stand_in.__getattr__ = __getattr__
    sys.modules[name] = stand_in


defer_rfc3987_syntax()  # when course_utils is imported (course_utils/__init__.py imports this module first)
