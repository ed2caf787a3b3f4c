"""The autograder: grade a student notebook against the hidden tests, write Gradescope's results.json.

    python -m course_utils.grade SUBMISSION.ipynb [--assignment NN] [--out results.json]
    ./course grade SUBMISSION.ipynb                  (the same, inside the course's .venv)

How a submission is graded:

1. **Which tests.** The assignment (``--assignment``, else the notebook's ``setup_notebook("NN_...")`` call, else
   its file name) picks ``solutions/NN_*.ipynb``. Its nbgrader test cells (``grade: true``, ``points``) are the
   tests: the public check the student saw, then the hidden tests. Hidden tests live only in ``solutions/``. Each
   ``assert`` is one test, and so is a loop (or other block) with asserts inside and a call of a check
   (``checks.check_elbo(elbo)``); every other statement (``x = ...``, ``torch.manual_seed(3)``,
   ``loss.backward()``) prepares inputs and scores nothing. Each test earns an equal share of the cell's ``points``.
   A notebook larger than ``--notebook-mb`` is refused before it is parsed.
2. **Run the notebook** top to bottom in its own kernel (nbclient), in a sandbox, with a per-cell timeout, a
   total timeout and a memory limit. This is feedback only ("cell 7 raised ZeroDivisionError"); no score comes
   from it.
3. **The judge** (:mod:`.judge`) runs each test statement in the grader's own process, where no submitted code
   ever runs. The graded names there are proxies: calling one sends a request ("call ``elbo`` with these
   inputs", "build ``Autoencoder(3)`` and call ``encode``") to the submission's *agent* (:mod:`.agent`), a
   process in the submission's sandbox that loads only the submission's definitions (imports, ``def``,
   ``class``, constants; :mod:`course_utils.nbcode`), from any cell, in any order, forking a fresh child per
   exercise. Inputs and results cross as plain data only (:mod:`.wire`: JSON numbers and strings, ``.npy``
   arrays of standard dtypes read without pickle, rebuilt as fresh plain tensors); anything else stays in the
   sandbox behind a handle. So every comparison, ``float()``, ``torch.allclose`` and check runs in the judge on
   data, and a tensor subclass, a patched ``torch`` or a forged message from the sandbox cannot pass a test.
   Requests carry inputs only: a hidden test's source and expected values never leave the judge. Garbage, a
   reply too large, silence past ``--test-timeout`` or a crash fails that test (the exercise's later tests
   fail as not run), never passes it.
4. **One sandbox per submission** (:mod:`.isolation`, :mod:`.sandbox`): an allowlist of paths (the interpreter
   and its packages, ``course_utils``, the data, size-limited in-memory folders), an unprivileged user, an
   environment from an allowlist, no network, limits on memory, processes, file sizes and time
   (``--submission-timeout`` for everything of one submission), all gone before the next submission starts.
5. **results.json** (Gradescope's format) is written by the grader process alone: ``score``, ``execution_time``,
   ``output`` (says how many hidden tests there are), ``tests[]`` with ``name``, ``score``, ``max_score``,
   ``output``, ``visibility``. Hidden tests show their name and result, never their source, inputs or expected
   values, nor any output or error message from the submission while they run. If grading itself fails, the
   file holds one "Autograder error" test.

Limits (``--cell-timeout`` and so on, see ``--help``) default to the ``fast`` profile's budget; the notebook
runs with ``COURSE_PROFILE=fast`` unless ``--profile full``. On Gradescope, ``--run-as USER`` names the
unprivileged user the submission's code runs as.

What this does not stop (docs/tas.md, "Threat model"): a submission that computes the right answers, however it
got them (copied from a friend, or looked up from inputs it has seen); a submission that spends its whole time
and memory budget; and, without bubblewrap, reading what the grading user may read.
"""

from .core import grade
from .limits import Limits
from .pool import RunnerPool
from .results import Outcome, Results

__all__ = ["Limits", "RunnerPool", "Outcome", "Results", "grade", "main"]


def main(argv=None) -> int:
    from .cli import main as _main

    return _main(argv)
