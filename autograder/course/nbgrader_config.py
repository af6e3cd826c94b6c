"""nbgrader configuration of the DDPG course. Run nbgrader's commands from this directory (see docs/instructors.md).

Autograde with ``python -m autograder.grade`` (``make grade``) from the repository: it ingests every submission,
runs each one in bubblewrap sandboxes, then runs ``nbgrader autograde`` on the ingested copies with the
trusted-grading preprocessor below, which decides the scores from the sandboxes' results. Every limit of the
sandboxes is set here. ``nbgrader autograde`` run by hand refuses: it would read what students handed in
directly.
"""

import importlib.util
import os

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

# The course directory is this folder, wherever the repository (or a copy of this folder) lives.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "ddpg-workbook"

# A test cell the student deleted is put back and graded (otherwise it would score None, "needs manual grading").
c.OverwriteCells.add_missing_cells = True

# ---- trusted grading --------------------------------------------------------------------------------------
# nbgrader's default autograde pipeline with its Execute preprocessor (which runs the student's code in a kernel
# with the instructor's rights, and lets that code decide its own test cells' outputs) replaced by
# SandboxedGrading (autograder/trusted.py). nbgrader's SaveAutoGrades still writes the scores to gradebook.db.
if importlib.util.find_spec("autograder") is not None and importlib.util.find_spec("autograder.trusted"):
    c.Autograde.autograde_preprocessors = [
        "autograder.trusted.SandboxedGrading",
        "autograder.outputs.SanitizeMarkdown",  # the student's markdown cells: no script in the feedback
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
else:  # `nbgrader autograde` without the package autograder installed: refuse, never grade unsandboxed
    from nbgrader.preprocessors import NbGraderPreprocessor

    class UseTheTrustedGrader(NbGraderPreprocessor):
        def preprocess(self, nb, resources):
            raise RuntimeError("Autograde this course with `python -m autograder.grade` (or `make grade`) from "
                               "the repository's root: it grades each submission in a sandbox.")

    c.Autograde.autograde_preprocessors = [UseTheTrustedGrader]

# The limits of each submission's sandboxes (bubblewrap). Defaults shown: they are those of SandboxLimits
# (workshop_lib/grading/limits.py), which says what each one does.
c.SandboxedGrading.wall_seconds = 120.0  # the whole notebook run, and the verdict run (s)
c.SandboxedGrading.cell_timeout = 30  # one cell of the notebook run; one probe of the verdict run (s)
c.SandboxedGrading.memory_bytes = 2 * 1024**3  # all its processes together (a memory cgroup, where the grader
#                                                may make one), and each process's address space (2 GiB)
c.SandboxedGrading.max_processes = 64  # processes and threads at once, per sandbox
c.SandboxedGrading.file_bytes = 256 * 1024**2  # largest file it may write
c.SandboxedGrading.tmp_bytes = 256 * 1024**2  # its private /tmp, and its home folder (a tmpfs each)
c.SandboxedGrading.cell_output_bytes = 1_000_000  # output kept per cell; the rest is dropped, with a note
c.SandboxedGrading.notebook_output_bytes = 5_000_000  # output kept per notebook ("output over 5 MB" past 2x)
# Each verdict run forked in a warm sandbox (PyTorch imported once per sandbox, the sandbox emptied between runs;
# docs/grading-security.md, "Warm sandboxes"); False: a fresh sandbox per verdict run. The default:
c.SandboxedGrading.warm = True
# The autograded notebook's outputs: "rerun" runs each submission again, cell by cell, in a sandbox (nbgrader's
# way); "submitted" shows the outputs the student saved, sanitized and capped the same way, and skips that run
# (about half the CPU of a class: the way to grade hundreds in minutes; benchmarks/GRADING.md). The grade is
# decided by the verdict run either way. The default:
c.SandboxedGrading.notebook_outputs = "rerun"

# ---- late submissions ---------------------------------------------------------------------------------------
# Policy: 10% of the assignment's points off per started day after the due date (10 days or more: 0 points); the
# total never drops below 0. The due date: `nbgrader db assignment add ddpg --duedate="2026-12-04 23:59:59 UTC"`;
# a submission's time: `submitted/<student>/ddpg/timestamp.txt`. nbgrader applies the plugin when it autogrades
# (the plugin is only imported then, through `python -m autograder.grade`); `make export` applies the same rule to
# the final score, manual grades included. See autograder/late.py and docs/instructors.md
# ("Instructor walkthrough").
c.AssignLatePenalties.plugin_class = "autograder.late.PercentPerDayLate"
c.PercentPerDayLate.percent_per_day = 10.0
