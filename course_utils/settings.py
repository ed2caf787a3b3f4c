"""Every environment variable the course reads, read here alone, into one typed object.

    from course_utils.settings import current
    s = current()                 # reads the environment now (cheap): a frozen Settings
    s.profile, s.download, s.bf16, s.cache

:data:`VARIABLES` is the one table: name, type, default and what it does. ``course settings`` prints it, and
``docs/settings.md`` is generated from it (``course settings --markdown``; a test keeps the two equal). A flag
accepts 1/true/yes/on and 0/false/no/off; anything else is an error that says what to write. There are no aliases.
The setup cell of each notebook prints the variables that are set (:func:`set_variables`).

Variables of other programs that the course only passes on (``OMP_NUM_THREADS``, nbgrader's
``NBGRADER_EXECUTION``, pyenv's ``PYENV_ROOT``) are read here too, so that no other module reads ``os.environ``.

Starting another program (a kernel, a test run, the grader's sandbox) hands it an environment, which is not
reading a setting: :func:`child_environment` is the one way to copy this process's environment for a child, whole
or only the variables an allowlist names. Other modules may write ``os.environ`` (``os.environ[k] = v``,
``.update``, ``.setdefault``, ``.pop``, ``.clear`` as statements) and never read it (``tests/test_settings.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class SettingError(ValueError):
    """An environment variable holds a value the course cannot use; the message says what to write."""


@dataclass(frozen=True)
class Variable:
    name: str
    field: str  # the attribute of Settings
    kind: str  # "flag", "choice", "int", "path" or "text"
    default: object
    help: str
    choices: tuple[str, ...] = ()
    group: str = "students"  # students, instructors and TAs, tests, passed on
    noun: str = "one of its values"  # what a choice's value is, for the error message: "a profile"


VARIABLES: tuple[Variable, ...] = (
    Variable("COURSE_PROFILE", "profile", "choice", "full", "the budget of every notebook: `fast` (small subsets, "
             "few epochs) or `full` (the real results)", ("fast", "full"), noun="a profile"),
    Variable("COURSE_CHECKPOINTS", "checkpoints", "choice", "auto", "`auto`: load a model from the cache, else "
             "train it; `released`: load the course's trained models; `train`: always train",
             ("auto", "released", "train"), noun="a mode"),
    Variable("COURSE_DEVICE", "device", "text", None, "the device, e.g. `cpu` or `cuda:1` (default: CUDA, then "
             "Apple's MPS, then the CPU)"),
    Variable("COURSE_BF16", "bf16", "flag", None, "train in bfloat16 autocast (1) or float32 (0); default: bf16 "
             "where the device computes it natively"),
    Variable("COURSE_SEED", "seed", "int", 0, "the seed of every notebook"),
    Variable("COURSE_CACHE", "cache", "path", None, "where trained models and decoded data are cached (default: "
             "`.cache/` in a clone, else `~/.cache/ssl-course`)"),
    Variable("COURSE_DATA", "data", "path", None, "the project's data folder (default: `data/` in a clone, else "
             "`~/.cache/ssl-course/data`)"),
    Variable("FASHION_MNIST_ROOT", "fashion_mnist_root", "path", None, "a folder holding Fashion-MNIST's four "
             "`.gz` files, looked at first"),
    Variable("COURSE_DOWNLOAD", "download", "flag", True, "download Fashion-MNIST with torchvision where it is "
             "missing and there is a network"),
    Variable("COURSE_PROGRESS", "progress", "flag", True, "show progress bars while training"),
    Variable("COURSE_SLIDES_PROFILE", "slides_profile", "choice", "full", "the profile `course slides` runs the "
             "decks in", ("fast", "full"), "instructors and TAs"),
    Variable("COURSE_SITE_PROFILE", "site_profile", "choice", "fast", "the profile `course site` runs the "
             "notebooks in", ("fast", "full"), "instructors and TAs"),
    Variable("COURSE_GRADE_ISOLATION", "grade_isolation", "choice", None, "how the grader isolates a submission: "
             "`namespace` (bubblewrap), `user` or `none` (default: the strongest available)",
             ("namespace", "user", "none"), "instructors and TAs", "an isolation level"),
    Variable("COURSE_GRADE_KEEP", "grade_keep", "flag", False, "keep the grader's logs and scratch folders "
             "(debugging the grader)", (), "instructors and TAs"),
    Variable("COURSE_VENV", "venv", "path", None, "the environment `./course` bootstraps and runs (default: "
             "`.venv`); read by the bootstrap", (), "the bootstrap (./course)"),
    Variable("COURSE_SKIP_APT", "skip_apt", "flag", False, "`./course` never calls apt-get", (),
             "the bootstrap (./course)"),
    Variable("COURSE_PIP_TRIES", "pip_tries", "int", 3, "how often `./course` runs a pip install that fails "
             "(a dropped download resumes from pip's cache)", (), "the bootstrap (./course)"),
    Variable("COURSE_VERIFY_STORED", "verify_stored", "flag", False, "compare every value a notebook computes "
             "with the stored one (`course test` sets it)", (), "tests"),
    Variable("COURSE_RECORD_STORED", "record_stored", "text", None, "`1`: write computed values into the "
             "package's store; a folder: write them there", (), "tests"),
    Variable("COURSE_TEST_WORKERS", "test_workers", "int", None, "test files side by side in `course test` "
             "(default: one per core, at most 4)", (), "tests"),
    Variable("COURSE_KERNELS_CACHE", "kernels_cache", "path", None, "`course test-kernels` trains into this "
             "cache and keeps it (CI)", (), "tests"),
    Variable("COURSE_E2E", "e2e", "text", "01", "the notebooks the browser test opens: `01`, `all`, `02,04`, or "
             "`0` for none", (), "tests"),
    Variable("COURSE_E2E_TIMEOUT", "e2e_timeout", "int", 900, "seconds the browser test gives one notebook", (),
             "tests"),
    Variable("COURSE_GRADE_SLOW", "grade_slow", "flag", False, "run the grader's tests that run whole notebooks",
             (), "tests"),
    Variable("COURSE_NBGRADER", "nbgrader", "flag", False, "run the tests with the real nbgrader "
             "(`course test-nbgrader` sets it)", (), "tests"),
    Variable("COURSE_REQUIRE_SANDBOX", "require_sandbox", "flag", False, "fail, not skip, the sandbox tests where "
             "bubblewrap is missing (CI)", (), "tests"),
    Variable("COURSE_REQUIRE_WEBASSETS", "require_webassets", "flag", False, "fail, not skip, the tests of the "
             "pages where npm or the registry is missing (CI)", (), "tests"),
    Variable("ATEN_CPU_CAPABILITY", "aten_cpu_capability", "text", None, "torch's CPU kernel set; "
             "`course test-kernels` picks a second one unless this says which", (), "passed on"),
    Variable("ONEDNN_MAX_CPU_ISA", "onednn_max_cpu_isa", "text", None, "oneDNN's highest instruction set; likewise",
             (), "passed on"),
    Variable("MKL_ENABLE_INSTRUCTIONS", "mkl_enable_instructions", "text", None, "MKL's instruction set; likewise",
             (), "passed on"),
    Variable("OMP_NUM_THREADS", "omp_threads", "int", None, "OpenMP's threads; `course test` sets it per worker",
             (), "passed on"),
    Variable("MKL_NUM_THREADS", "mkl_threads", "int", None, "MKL's threads; follows OMP_NUM_THREADS in tests",
             (), "passed on"),
    Variable("NBGRADER_EXECUTION", "nbgrader_execution", "text", None, "set by nbgrader while it autogrades: a "
             "failing check then raises, so that nbgrader scores it", (), "passed on"),
    Variable("PYENV_ROOT", "pyenv_root", "path", None, "where `course test-matrix` looks for other Pythons "
             "(default: `~/.pyenv`)", (), "passed on"),
)
BY_NAME = {v.name: v for v in VARIABLES}


def _parse(var: Variable, raw: str):
    text = raw.strip()
    if text == "":
        return var.default
    if var.kind == "flag":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise SettingError(f"{var.name}={raw!r} is not a yes or a no: write {var.name}=1 or {var.name}=0 "
                           f"({var.help}).")
    if var.kind == "choice":
        if text.lower() in var.choices:
            return text.lower()
        options = ", ".join(f"{var.name}={c}" for c in var.choices)
        raise SettingError(f"{var.name}={raw!r} is not {var.noun}. Use {options} ({var.help}), or unset it.")
    if var.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise SettingError(f"{var.name}={raw!r} is not a whole number ({var.help}). Unset it, or write e.g. "
                               f"{var.name}=1.") from None
    if var.kind == "path":
        return Path(text).expanduser()
    return text


@dataclass(frozen=True)
class Settings:
    profile: str
    checkpoints: str
    device: str | None
    bf16: bool | None
    seed: int
    cache: Path | None
    data: Path | None
    fashion_mnist_root: Path | None
    download: bool
    progress: bool
    slides_profile: str
    site_profile: str
    grade_isolation: str | None
    grade_keep: bool
    venv: Path | None
    skip_apt: bool
    pip_tries: int
    verify_stored: bool
    record_stored: str | None
    test_workers: int | None
    kernels_cache: Path | None
    e2e: str
    e2e_timeout: int
    grade_slow: bool
    nbgrader: bool
    require_sandbox: bool
    require_webassets: bool
    aten_cpu_capability: str | None
    onednn_max_cpu_isa: str | None
    mkl_enable_instructions: str | None
    omp_threads: int | None
    mkl_threads: int | None
    nbgrader_execution: str | None
    pyenv_root: Path | None


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings as the environment (``os.environ``, or ``environ``) says now."""
    env = os.environ if environ is None else environ
    values = {v.field: _parse(v, env[v.name]) if v.name in env else v.default for v in VARIABLES}
    return Settings(**values)


def set_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The course's own variables that are set (not those of other programs), as written."""
    env = os.environ if environ is None else environ
    return {v.name: env[v.name] for v in VARIABLES if v.group != "passed on" and env.get(v.name, "").strip()}


def child_environment(keep: Iterable[str] | None = None) -> dict[str, str]:
    """A copy of this process's environment to hand to a child process: all of it, or only the variables named in
    ``keep`` that are set (in ``keep``'s order; the grader's sandbox passes on an allowlist). The values are passed
    on as they are, never interpreted: a setting is read through :func:`current`."""
    if keep is None:
        return dict(os.environ)
    return {k: os.environ[k] for k in keep if k in os.environ}


def table() -> str:
    """The variables as a Markdown table by group: what ``docs/settings.md`` holds."""
    lines = ["# Settings", "", "The course reads these environment variables, all in `course_utils/settings.py`. "
             "This page is generated by `course settings --markdown`; `course settings` prints the values in force.",
             ""]
    for group in dict.fromkeys(v.group for v in VARIABLES):
        lines += [f"## {group[0].upper()}{group[1:]}", "", "| variable | values | default | what it does |",
                  "|---|---|---|---|"]
        for v in (v for v in VARIABLES if v.group == group):
            values = " or ".join(f"`{c}`" for c in v.choices) if v.choices else {
                "flag": "`1` or `0`", "int": "a whole number", "path": "a folder", "text": "text"}[v.kind]
            shown = {True: "1", False: "0"}.get(v.default, v.default) if isinstance(v.default, bool) else v.default
            default = "-" if v.default is None else f"`{shown}`"
            lines.append(f"| `{v.name}` | {values} | {default} | {v.help} |")
        lines.append("")
    return "\n".join(lines)


assert [f.name for f in fields(Settings)] == [v.field for v in VARIABLES], "one field per variable, in order"

__all__ = ["Settings", "SettingError", "Variable", "VARIABLES", "current", "set_variables", "child_environment",
           "table"]
