"""The mutation suite: realistic wrong answers (tests/submissions/mistakes.py, MUTANTS) each lose points on their own
exercise when graded against the hidden tests, and answers written differently (CORRECT) keep full marks.

Mutants of different exercises of one notebook share a submission (a round), so a notebook costs as many
gradings as its most-mutated exercise has mutants; each grading covers only the mutated exercises, without the
top-to-bottom run."""

import os

import pytest
from submissions.mistakes import CORRECT, MUTANTS
from test_grade import assert_valid, by_exercise, make_submission, outputs

from course_utils.grade import Limits, grade
from helpers import ROOT

LIMITS = Limits.for_profile("fast", test_timeout=180)
# Autoencoder mutants that pass its check's 300 training steps (twice a grading, a minute under load): the first one
# runs always, these with COURSE_GRADE_SLOW=1
SLOW = {"Autoencoder: a ReLU on the code z", "Autoencoder: hidden_dim ignored"}
SUITE = {k: m for k, m in MUTANTS.items() if k not in SLOW or os.environ.get("COURSE_GRADE_SLOW") == "1"}


def _rounds(mistakes: dict) -> list[tuple[str, dict]]:
    """(notebook, {exercise: (name, mistake)}) per submission: the k-th mutant of each exercise in round k."""
    by: dict = {}
    for name, m in mistakes.items():
        by.setdefault(m.notebook, {}).setdefault(m.exercise, []).append((name, m))
    out = []
    for notebook, exercises in sorted(by.items()):
        for k in range(max(len(v) for v in exercises.values())):
            out.append((notebook, {ex: v[k] for ex, v in exercises.items() if k < len(v)}))
    return out


MUTANT_ROUNDS = _rounds(SUITE)
CORRECT_ROUNDS = _rounds(CORRECT)


def _grade(tmp_path, notebook: str, answers: dict) -> dict:
    path = make_submission(tmp_path / f"{notebook}.ipynb", replace={ex: m.source for ex, (_, m) in answers.items()},
                           base=ROOT / "solutions" / f"{notebook}.ipynb")
    results = grade(path, execute=False, limits=LIMITS, exercises=list(answers))
    print(results.summary())
    return assert_valid(results)


def test_the_suite_is_large_enough():
    assert len(SUITE) >= 40 and len(CORRECT) >= 10
    assert {m.notebook for m in MUTANTS.values()} == {f"0{k}_{n}" for k, n in
                                                      [(1, "jensen_elbo"), (2, "autoencoders"), (3, "vae"),
                                                       (4, "simclr"), (5, "mae")]}


@pytest.mark.parametrize("notebook,answers", MUTANT_ROUNDS,
                         ids=[f"{nb}-{'+'.join(a)}" for nb, a in MUTANT_ROUNDS])
def test_each_mutant_loses_points_on_its_own_exercise(tmp_path, notebook, answers):
    scores = by_exercise(_grade(tmp_path, notebook, answers))
    for exercise, (name, _) in answers.items():
        got, most = scores[exercise]
        assert got < most, f"{name!r} kept full marks on {exercise}"


@pytest.mark.parametrize("notebook,answers", CORRECT_ROUNDS,
                         ids=[f"{nb}-{'+'.join(a)}" for nb, a in CORRECT_ROUNDS])
def test_answers_written_differently_keep_full_marks(tmp_path, notebook, answers):
    results = _grade(tmp_path, notebook, answers)
    scores = by_exercise(results)
    for exercise, (name, _) in answers.items():
        got, most = scores[exercise]
        assert got == pytest.approx(most), f"{name!r} lost points: {outputs(results, exercise)}"
