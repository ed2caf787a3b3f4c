"""The autograder: grade a student notebook against the hidden tests, write Gradescope's results.json.

    python -m course_utils.grade SUBMISSION.ipynb [--assignment NN] [--out results.json]
    ./course grade SUBMISSION.ipynb                  (the same, inside the course's .venv)

How a submission is graded:

1. **Which tests.** The assignment (``--assignment``, else the notebook's ``setup_notebook("NN_...")`` call, else
   its file name) picks ``solutions/NN_*.ipynb``. Its nbgrader test cells (``grade: true``, ``points``) are the
   tests: the public check the student saw, then the hidden tests. Hidden tests live only in ``solutions/``.
2. **Run the notebook** top to bottom in its own kernel (nbclient) in a sandbox folder, with a per-cell timeout,
   a total timeout and a memory limit. This is feedback only ("cell 7 raised ZeroDivisionError"); no score comes
   from it, so nothing the notebook does (printing, exiting, writing files) can change a score.
3. **Test by name.** A separate warm process forks a fresh child for each exercise's public check and for its
   hidden tests. The child loads only the submission's *definitions* (imports, ``def``, ``class``, constants;
   :mod:`course_utils.nbcode`), from any cell, in any order, so deleted, moved or duplicated cells and cell ids do not
   matter. Each statement of a test cell (a check call, one ``assert``) is one check and earns an equal share
   of the cell's ``points``. Tests see copies of ``torch``, ``math`` and ``checks`` taken before the submission
   loaded; a statement after which torch, builtins or the checks were changed fails. A statement that runs
   past its timeout or ends the process fails, and the exercise's remaining statements are not run.
4. **results.json** (Gradescope's format) is written by the grader process alone: ``score``, ``execution_time``,
   ``output`` (says how many hidden tests there are), ``tests[]`` with ``name``, ``score``, ``max_score``,
   ``output``, ``visibility``. Hidden tests show their name and result, never their source, inputs or expected
   values, nor any output or error message from the submission while they run. If grading itself fails, the
   file holds one "Autograder error" test.

Limits (``--cell-timeout`` and so on, see ``--help``) default to the ``fast`` profile's budget; the notebook
runs with ``COURSE_PROFILE=fast`` unless ``--profile full``. On Gradescope, ``--run-as USER`` runs the
submission's code as an unprivileged user, so it cannot touch the grader's files or results.

What this does not stop: code running inside a test process can, with enough effort, read that process's
memory (for instance the caller's frame) and so see the hidden test it is called from. Running hidden tests one
at a time, in fresh processes, after all public output has been collected keeps them out of any feedback.
"""

from .core import grade
from .limits import Limits
from .pool import RunnerPool
from .results import Results, error_results, summary, write_results

__all__ = ["Limits", "RunnerPool", "Results", "grade", "summary", "write_results", "error_results", "main"]


def main(argv=None) -> int:
    from .cli import main as _main

    return _main(argv)
