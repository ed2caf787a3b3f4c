"""nbgrader's configuration for this course, where nbgrader finds it without being told: it reads
``nbgrader_config.py`` from the folder it runs in and from the course folder (``CourseDirectory.root``).

With the clone as the nbgrader course folder (``source/<assignment>/<notebook>.ipynb`` copied from ``solutions/``,
nbgrader run from the clone's root, as nbgrader's tutorial does in its course folder), ``nbgrader
generate_assignment`` and ``nbgrader generate_solution`` leave out the instructor notes: the cells tagged
``instructor`` (answers to the open questions, the usual mistakes), which ``course generate`` removes too. nbgrader's
own preprocessors keep every cell that is not a solution or a hidden test, so without this file they reach students.

A course folder elsewhere (``nbgrader quickstart``) reads this file when its own ``nbgrader_config.py`` loads it::

    load_subconfig("/path/to/the/clone/nbgrader_config.py")

``tests/test_nbgrader.py`` runs the real nbgrader with nbgrader's defaults and this file only (docs/tas.md).
"""

from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.converters import GenerateAssignment, GenerateSolution

c = get_config()  # noqa: F821 - nbgrader's config loader defines it

c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = {"instructor"}
# First, before nbgrader's own steps (its defaults, as nbgrader 0.9 sets them), as course generate removes them first.
for converter in (GenerateAssignment, GenerateSolution):
    defaults = converter.class_traits()["preprocessors"].default()
    getattr(c, converter.__name__).preprocessors = [TagRemovePreprocessor,
                                                    *[p for p in defaults if p is not TagRemovePreprocessor]]
