"""The notebook-01 checks: pass the solution, name typical mistakes, never raise."""

import math
import sys

import pytest
import torch

from course_utils import checks
from course_utils.assign import SOLUTIONS_DIR, solution_namespace
from course_utils.checks import nb01
from helpers import checks_run as _run

SOL = solution_namespace(SOLUTIONS_DIR / "01_jensen_elbo.ipynb")


@pytest.mark.parametrize("name", ["log_marginal", "elbo", "posterior"])
def test_solution_passes(name, capsys):
    ok, out = _run(getattr(nb01, f"check_{name}"), SOL[name], capsys)
    assert ok and out.startswith(f"[PASS] {name}")
    assert checks.passed(name)


@pytest.mark.parametrize("name", ["log_marginal", "elbo", "posterior"])
def test_untouched_exercise_is_todo(name, capsys):
    def untouched(*args, **kwargs):
        raise NotImplementedError()

    ok, out = _run(getattr(nb01, f"check_{name}"), untouched, capsys)
    assert not ok and out.startswith(f"[TODO] {name}: not done yet")
    assert checks.missing(name) == [name]


MISTAKES = [
    ("log_marginal", lambda lj: torch.log(torch.exp(lj).sum(1)), "log-sum-exp"),
    ("log_marginal", lambda lj: torch.logsumexp(lj, 1) - math.log(lj.shape[1]), "averaging over z"),
    ("log_marginal", lambda lj: torch.logsumexp(lj, 0), "reduced over dim 0"),
    ("log_marginal", lambda lj: lj.max(1).values, "max over z"),
    ("log_marginal", lambda lj: torch.logsumexp(lj, 1, keepdim=True), "keepdim"),
    ("log_marginal", lambda lj: torch.logsumexp(lj.float(), 1), "dtype"),
    ("elbo", lambda lj, q: (q * lj).sum(1), "entropy H(q) is missing"),
    ("elbo", lambda lj, q: (q * lj).sum(1) + torch.xlogy(q, q).sum(1), "wrong sign"),
    ("elbo", lambda lj, q: (q * lj).sum(1) - (q * torch.log(q)).sum(1), "0 log 0"),
    ("posterior", lambda lj: torch.softmax(lj, 0), "normalise over z"),
    ("posterior", lambda lj: torch.exp(lj), "divide by p(x)"),
    ("posterior", lambda lj: torch.log_softmax(lj, 1), "exponentiate"),
    ("posterior", lambda lj: torch.exp(lj) / torch.exp(lj).sum(1, keepdim=True), "log space"),
]


@pytest.mark.parametrize("name,wrong,hint", MISTAKES)
def test_typical_mistakes_are_named(name, wrong, hint, capsys):
    if name == "elbo":
        fn = lambda log_joint, q: wrong(log_joint, q)  # noqa: E731
    else:
        fn = lambda log_joint: wrong(log_joint)  # noqa: E731
    ok, out = _run(getattr(nb01, f"check_{name}"), fn, capsys)
    assert not ok and out.startswith(f"[FAIL] {name}")
    assert hint in out, out


def test_in_place_mutation_is_caught(capsys):
    def mutating(log_joint):
        log_joint -= log_joint.max(1, keepdim=True).values
        return torch.logsumexp(log_joint, 1)

    ok, out = _run(nb01.check_log_marginal, mutating, capsys)
    assert not ok and "in place" in out


@pytest.mark.parametrize(
    "bad",
    [
        lambda log_joint: "a string",
        lambda log_joint: sys.exit(3),
        lambda log_joint: 1 / 0,
        lambda: None,  # wrong signature
        42,  # not a function at all
    ],
)
def test_checks_never_raise(bad, capsys):
    ok, out = _run(nb01.check_log_marginal, bad, capsys)
    assert not ok and out.startswith("[FAIL] log_marginal")


def test_result_is_a_quiet_bool(capsys):
    ok = nb01.check_log_marginal(SOL["log_marginal"], verbose=False)
    assert capsys.readouterr().out == ""
    assert ok == True and bool(ok) and repr(ok) == "True"  # noqa: E712


def test_a_failing_check_raises_under_nbgrader_only(capsys, monkeypatch):
    """nbgrader's autograde scores a test cell by whether it raised: there (NBGRADER_EXECUTION) a check that does not
    pass raises with its message; a passing one does not; elsewhere checks never raise."""
    def wrong(log_joint):
        return log_joint.sum(dim=1)

    assert not nb01.check_log_marginal(wrong)  # no nbgrader: a false result, no exception
    for mode in ("autograde", "validate"):
        monkeypatch.setenv("NBGRADER_EXECUTION", mode)
        with pytest.raises(checks.CheckFailed, match=r"\[FAIL\] log_marginal"):
            nb01.check_log_marginal(wrong)
        assert nb01.check_log_marginal(SOL["log_marginal"])
