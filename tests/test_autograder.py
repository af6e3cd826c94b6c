"""The assignment and its autograder: the master notebook, the generated student and solution notebooks, the
visible checks, and the catalog of submissions: each one decided by its verdict run, and a part of them graded by
the whole of `make grade` (the real ``nbgrader autograde``) on a dask cluster.

The nbgrader workflow always runs on a temporary copy of the course directory (``autograder/``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest

from tests import grading_catalog as gc

REPO = Path(__file__).resolve().parent.parent
MASTER = REPO / "autograder" / "course" / "source" / "ddpg" / "ddpg_pendulum.ipynb"
STUDENT = REPO / "notebooks" / "ddpg_pendulum.ipynb"
SOLUTION = REPO / "solutions" / "ddpg_pendulum_solution.ipynb"
from autograder import build_notebooks, grade, nbgrader_cli  # noqa: E402
from autograder.parts import PARTS  # noqa: E402


def _autograded(scores: dict[str, dict[str, float | None]]) -> dict[str, dict[str, float | None]]:
    """The scores of the autograded parts only (the gradebook also holds the manually graded answer cells)."""
    return {student: {gid: row.get(gid) for gid in gc.POINTS} for student, row in scores.items()}


def _cells(path: Path) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


# ------------------------------------------------------------------------------------------- the master
def test_master_has_the_graded_parts_with_unique_ids():
    nb = nbformat.read(MASTER, as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), "every nbgrader cell needs a unique grade_id"
    cells = _cells(MASTER)
    points = {gid: c.metadata["nbgrader"].get("points") for gid, c in cells.items()
              if c.metadata["nbgrader"]["grade"] and not c.metadata["nbgrader"]["solution"]}
    # the autograded parts; the manually graded answer cells are checked in tests/test_notebook_numbers.py
    assert points == {p.grade_id: p.points for p in PARTS}, "the master's test cells must match autograder/parts.py"
    for gid in gc.POINTS:
        assert cells[gid].metadata["nbgrader"]["locked"]
        # the verdict is decided by the grader (autograder/verdict.py), never by code in the student's kernel
        assert "HIDDEN TESTS" not in cells[gid].source
    for gid in ("select_action", "backward"):
        cell = cells[gid]
        assert cell.metadata["nbgrader"]["solution"] and cell.source.startswith("%%add_to DDPGAgent\n")
        # jdc drops whatever is not a def: the markers must sit inside the method body
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
                assert line.startswith("    "), f"marker outside the method body in {gid}: {line!r}"


def test_hyperparameter_cell_holds_the_library_defaults():
    from workshop_lib.train import Hyperparameters
    from workshop_lib.utils import create_run_name

    nb = nbformat.read(MASTER, as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and "EPSILON_START =" in c.source)
    namespace = {"create_run_name": create_run_name}
    exec(source, namespace)  # noqa: S102 - our own notebook cell
    for name, value in asdict(Hyperparameters()).items():
        assert namespace[name] == value, f"{name}: notebook {namespace[name]!r}, library default {value!r}"


# ---------------------------------------------------------------------------------- the student notebook
@pytest.mark.slow
def test_committed_student_notebook_is_what_generate_assignment_makes(generated_release):
    assert build_notebooks.release_differences(generated_release) == [], "run `make notebooks` to regenerate notebooks/"


def test_student_notebook_has_stubs_and_given_code_but_no_solution():
    text = STUDENT.read_text()
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "_reference_update", "self.mu_target(next_states)",
                   "self.mu_current(state).numpy()"):
        assert secret not in text, f"the student notebook leaks {secret!r}"
    cells = _cells(STUDENT)
    select = cells["select_action"].source
    assert select.startswith("%%add_to DDPGAgent\ndef select_action(self, state):")
    assert select.count("raise NotImplementedError()") == 1
    backward = cells["backward"].source
    assert backward.startswith("%%add_to DDPGAgent\ndef backward(self):")
    assert backward.count("raise NotImplementedError()") == 4
    for given in ("loss = (torch.nn.functional.mse_loss(qs_selected, qs_target)).mean()",
                  "p.requires_grad = False", "loss_mu = q_mu.mean()", "self.mu_optimizer.step()",
                  "self._update_target_model()", "return torch.mean(td_error).item(), loss_mu.detach().item()"):
        assert given in backward, f"given code missing from backward: {given}"


@pytest.mark.slow
def test_student_notebook_run_all_stops_at_the_first_exercise_check(tmp_path):
    """Restart & Run All: every cell before the first check runs; the check raises the stub's error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    work = tmp_path / "nb"
    import shutil

    shutil.copytree(STUDENT.parent, work, ignore=build_notebooks.IGNORED)
    nb = nbformat.read(work / STUDENT.name, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert "NotImplementedError" in str(info.value)
    ran = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    failing = ran[-1]
    assert failing.metadata["nbgrader"]["grade_id"] == "test_select_action"
    for cell in ran[:-1]:
        assert not any(o.output_type == "error" for o in cell.outputs)
    first_check = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id")
                       == "test_select_action")
    assert all(c.execution_count is not None for c in nb.cells[:first_check] if c.cell_type == "code")


# --------------------------------------------------------------------------------- the solution notebook
def test_solution_notebook_is_the_master_without_markers_and_hidden_tests():
    expected = build_notebooks.solution_notebook()
    committed = nbformat.read(SOLUTION, as_version=4)
    assert [c.source for c in committed.cells] == [c.source for c in expected.cells], \
        "solutions/ notebook drifted from the master: run `make notebooks`"
    text = SOLUTION.read_text()
    assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text


def test_solution_notebook_ran_top_to_bottom_and_solves_pendulum():
    nb = nbformat.read(SOLUTION, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not one clean run"
    for cell in code:
        for out in cell.outputs:
            assert out.output_type != "error", f"cell {cell.id} raised {out.get('ename')}"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"stderr in cell {cell.id}: {out.text}"
    texts = "".join(o.get("text", "") for c in code for o in c.outputs if o.output_type == "stream")
    for check in ("Exercise 1: all checks passed", "critic prediction: all checks passed",
                  "critic target: all checks passed", "policy loss: all checks passed"):
        assert check in texts
    greedy = float(re.search(r"Greedy return over 10 fresh episodes: (-?[\d.]+)", texts).group(1))
    assert greedy >= -200, f"the solution's greedy return {greedy} does not solve Pendulum (>= -200)"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), "no figure"
    training = next(c for c in code if "agent.backward()" in c.source and "for episode in progress" in c.source)
    assert "EPISODES: 80" in "".join(o.get("text", "") for o in training.outputs), "not the full training run"


# ----------------------------------------------------------------------- the catalog, through nbgrader
@pytest.fixture(scope="module")
def dask_cluster():
    """A real dask.distributed cluster on 127.0.0.1, started with the commands of docs/instructors.md ("Several
    machines": its scheduler and its worker line, two worker processes), and that page's grade command for it."""
    from tests.readme_cluster import readme_cluster

    with readme_cluster() as (address, grade_argv):
        yield address, grade_argv


def _grade(course: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course), *options],
                          capture_output=True, text=True, cwd=REPO)


def _table(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("|")]


FULL_PIPELINE = ["ok_reference", "ok_two_argument_qnet_neg", "bad_act_no_clip", "bad_prediction_squeezed",
                 "bad_no_done_mask", "bad_policy_no_minus", "bad_critic_left_frozen", "bad_act_hangs",
                 "trap_unmodified", "trap_deleted_test_cell", "trap_emptied_test_cell"]
"""The catalog's submissions graded through the whole of `make grade` on the dask cluster (both sandboxed runs,
nbgrader's apply, the gradebook, the table, the export, the feedback pages): two correct ways, a mistake of each
part, the hang and the traps. Every submission of the catalog is decided by its verdict run in
:func:`catalog_verdicts`: the same ingest, sandbox, probe and ``autograder.verdict.decide`` that decide `make
grade`'s parts (the notebook run and the apply decide none); test_make_grade_scores_what_the_verdict_run_decides
checks, on these, that the gradebook holds exactly those decisions."""


def _full_pipeline() -> list[gc.Variant]:
    return [v for v in gc.CATALOG if v.name in FULL_PIPELINE]


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, dask_cluster):
    """A temporary copy of the course with the :data:`FULL_PIPELINE` submissions, graded through the dask cluster
    by `python -m autograder.grade --scheduler ...` (generate_assignment; nbgrader prepares the jobs; the two
    workers run them in their sandboxes; nbgrader applies the results)."""
    course = build_notebooks.copy_course(tmp_path_factory.mktemp("course"))
    gc.write_submissions(course, STUDENT, MASTER, _full_pipeline())
    start = time.perf_counter()
    address, argv = dask_cluster
    assert argv[1:] == ["-m", "autograder.grade", "--scheduler", address]  # the documented command, as written
    proc = subprocess.run([*argv, "--course", str(course)], capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    print(f"graded {len(FULL_PIPELINE)} submissions on the dask cluster in {elapsed:.0f} s")
    return {"course": course, "proc": proc, "scores": grade.read_scores(course), "seconds": elapsed}


@pytest.fixture(scope="module")
def catalog_verdicts(tmp_path_factory):
    """Every submission of the catalog, and one whose cell ends its own process, decided by its verdict run alone
    (``autograder/hub/verdict_only.py``, what grading on submit runs), two at a time in two warm sandboxes
    (``autograder/warm.py``): ``{name: PreGrade}``. test_make_grade_scores_what_the_verdict_run_decides holds
    them to `make grade`'s fresh runs."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder.course_folder import release_notebook
    from autograder.hub.verdict_only import VerdictOnly

    folder = build_notebooks.copy_course(tmp_path_factory.mktemp("verdicts") / "course")
    grader = VerdictOnly(folder, log=lambda line: None, warm=2)
    grader.prepare()
    exits = gc.Variant("trap_exits", "a cell that ends its own process", {k: 0.0 for k in gc.POINTS}, {},
                       lambda nb: nb.cells.insert(1, nbformat.v4.new_code_cell("import os; os._exit(0)")))
    variants = [*gc.CATALOG, exits]
    gc.write_submissions(folder, release_notebook(folder), MASTER, variants)
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        outcomes = dict(zip([v.name for v in variants], pool.map(grader.grade, [v.name for v in variants])))
    grader.close()
    print(f"decided {len(variants)} submissions by their verdict runs in {time.perf_counter() - start:.0f} s")
    return outcomes


SUBSET = ["ok_reference", "bad_no_done_mask", "trap_unmodified"]
"""What the serial and `--jobs 2` runs grade, to compare with the dask run: full marks, one part lost, every part
lost (the released notebook as is). Here only the ways of running the jobs are compared, each one a whole grading
run."""


@pytest.mark.slow
def test_parallel_and_dask_grading_equal_a_serial_run(tmp_path, graded_course):
    """`--jobs 1` (one after the other), `--jobs 2` (threads here) and the dask cluster give the
    same gradebook scores and the same table rows."""
    variants = [v for v in gc.CATALOG if v.name in SUBSET]
    runs = {}
    for label, options in (("serial", ["--jobs", "1"]), ("parallel", ["--jobs", "2"])):
        course = build_notebooks.copy_course(tmp_path / label)
        gc.write_submissions(course, STUDENT, MASTER, variants)
        proc = _grade(course, *options)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        runs[label] = (_autograded(grade.read_scores(course)), _table(proc.stdout))
    serial_scores, serial_table = runs["serial"]
    assert serial_scores == {v.name: v.expected for v in variants}
    assert runs["parallel"] == runs["serial"]
    dask_scores = _autograded({name: graded_course["scores"][name] for name in SUBSET})
    dask_rows = [row for row in _table(graded_course["proc"].stdout) if row.split("|")[1].strip() in SUBSET]
    assert dask_scores == serial_scores
    assert dask_rows == serial_table[2:]
    assert re.search(r"^\[ ?\d+/\d+\] ok_reference +[\d.]+ s", graded_course["proc"].stdout, re.M), \
        "one progress line per submission"


@pytest.mark.slow
def test_grading_the_catalog_does_not_crash(graded_course):
    proc = graded_course["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert set(graded_course["scores"]) == set(FULL_PIPELINE)
    for variant in _full_pipeline():  # the table of `make grade`
        assert re.search(rf"^\| {variant.name} \|.* \| {variant.total:g} \| [^|]* \|$", proc.stdout, re.M), \
            variant.name


@pytest.mark.slow
@pytest.mark.parametrize("variant", gc.CATALOG, ids=lambda v: v.name)
def test_catalog_scores(catalog_verdicts, variant):
    """Each part of each submission of the catalog, as its verdict run decides it."""
    outcome = catalog_verdicts[variant.name]
    assert outcome.verdicts is not None, outcome.why
    got = {v.part.grade_id: v.score for v in outcome.verdicts}
    assert got == variant.expected, f"{variant.name} ({variant.why}): {[v.message for v in outcome.verdicts]}"


@pytest.mark.slow
def test_make_grade_scores_what_the_verdict_run_decides(graded_course, catalog_verdicts):
    """The gradebook of the whole `make grade` (the dask run) holds, for every part, what the verdict run alone
    decides (each student with their own fixtures there, the service's fixtures here), and the catalog's
    expected scores."""
    for variant in _full_pipeline():
        decided = {v.part.grade_id: v.score for v in catalog_verdicts[variant.name].verdicts}
        recorded = {gid: graded_course["scores"][variant.name].get(gid) for gid in gc.POINTS}
        assert recorded == decided == variant.expected, variant.name


@pytest.mark.slow
def test_a_submission_that_ends_its_own_run_gets_zeros_not_a_grader_fault(catalog_verdicts):
    """Nothing came back from its verdict run, and the master still passes: the submission is at fault (every part
    0, with the reason), not the grader."""
    outcome = catalog_verdicts["trap_exits"]
    assert outcome.verdicts is not None and not outcome.grader_fault, outcome.why
    assert outcome.score == 0 and any("verdict run" in n for n in outcome.notes), outcome.notes


@pytest.mark.slow
def test_catalog_has_enough_correct_variants_and_mistakes():
    assert len(gc.CORRECT) >= 6 and all(v.total == 10 for v in gc.CORRECT)
    assert len(gc.MISTAKES) >= 12 and all(v.total < 10 for v in gc.MISTAKES)


@pytest.mark.slow
def test_a_hang_is_cut_by_the_time_limits(graded_course):
    nb = nbformat.read(graded_course["course"] / "autograded" / "bad_act_hangs" / "ddpg" / "ddpg_pendulum.ipynb", 4)
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_select_action")
    assert any(o.output_type == "error" and "no result within" in o.evalue for o in check.outputs), check.outputs
    training = next(c for c in nb.cells if "agent.backward()" in c.source and "for episode in" in c.source)
    assert any(o.output_type == "error" and "Timeout" in o.ename for o in training.outputs)


@pytest.mark.slow
def test_a_deleted_test_cell_is_put_back_and_graded(graded_course):
    nb = nbformat.read(graded_course["course"] / "autograded" / "trap_deleted_test_cell" / "ddpg" /
                       "ddpg_pendulum.ipynb", 4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert "test_policy_loss" in ids


@pytest.mark.slow
def test_feedback_and_export_from_the_graded_course(graded_course):
    """The rest of the instructor workflow (docs/instructors.md), with nbgrader's own commands, in the course
    directory."""
    course = graded_course["course"]
    build_notebooks.nbgrader(["generate_feedback", "ddpg", "--student", "ok_reference"], cwd=course)
    feedback = course / "feedback" / "ok_reference" / "ddpg" / "ddpg_pendulum.html"
    assert feedback.is_file() and "policy loss: passed (3/3)" in feedback.read_text()
    build_notebooks.nbgrader(["export"], cwd=course)
    rows = (course / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("assignment,") and len(rows) == 1 + len(FULL_PIPELINE)


@pytest.mark.slow
def test_export_has_one_column_per_part(graded_course):
    import csv

    course = graded_course["course"]
    proc = subprocess.run([sys.executable, "-m", "autograder.export", "--course", str(course)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(course / "grades_by_part.csv") as f:
        table = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(table) == set(FULL_PIPELINE)
    for variant in _full_pipeline():
        row = table[variant.name]
        assert {gid: float(row[gid]) for gid in gc.POINTS} == variant.expected, variant.name
        assert float(row["autograded"]) == variant.total and float(row["max_total"]) >= 10


def _assert_page(page: str, variant: gc.Variant) -> None:
    """A feedback or pre-grade page: each part's title; for each part lost, the visible check's message (which
    names the mistake); no grader code, no reference value's source, no script, no video."""
    import html

    grader_sources = [(REPO / "autograder" / name).read_text() for name in ("verdict.py", "trusted.py")]
    for secret in ("HIDDEN TESTS", "BEGIN SOLUTION", "_reference_update", "reference_records", "<script", "<video"):
        assert secret not in page, f"{variant.name}: the page holds {secret!r}"
    for source in grader_sources:
        assert not any(len(line) > 40 and line.strip() in page for line in source.splitlines()
                       if line.strip().startswith(("_check(", "judge_", "def "))), variant.name
    for part in PARTS:
        assert html.escape(part.title) in page
    lost = [gid for gid, pts in variant.expected.items() if pts < gc.POINTS[gid]]
    if variant.pieces and lost and variant.name != "bad_act_hangs":
        failures = _visible_failures(gc.agent_class(STUDENT, MASTER, variant))
        for gid in lost:
            message = failures[gid].split(": ", 1)[1]
            assert html.escape(message[:200]) in page, f"{variant.name}: {gid}: the page lacks {message!r}"


@pytest.mark.slow
def test_feedback_pages_name_each_mistake_and_hold_no_grader_code(graded_course):
    """`make feedback`: every page shows each part's score; a failed part carries the visible check's message
    (which names the mistake); no page holds grader code, a reference value's source, a script or a video."""
    course = graded_course["course"]
    proc = subprocess.run([sys.executable, "-m", "autograder.feedback", "--course", str(course)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    for variant in _full_pipeline():
        _assert_page((course / "feedback" / variant.name / "ddpg" / "ddpg_pendulum.html").read_text(), variant)


@pytest.mark.slow
def test_pre_grade_pages_name_each_mistake_and_hold_no_grader_code(catalog_verdicts):
    """The pre-grade page of every submission of the catalog (``autograder.feedback.pregrade_page``), held to the
    same rules."""
    from autograder.feedback import pregrade_page

    for variant in gc.CATALOG:
        outcome = catalog_verdicts[variant.name]
        _assert_page(pregrade_page(variant.name, outcome.notebook, outcome.verdicts, outcome.notes), variant)


def test_grade_without_submissions_says_what_to_do(tmp_path):
    course = build_notebooks.copy_course(tmp_path / "course")
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and "No submissions to grade" in proc.stdout


def test_score_table_follows_the_gradebook_cells():
    maxima = {"test_select_action": 2.0, "test_critic_prediction": 2.0, "test_critic_target": 3.0,
              "test_policy_loss": 3.0, "test_extra_part": 1.0}
    scores = {"alice": {"test_select_action": 2.0, "test_critic_prediction": 2.0, "test_critic_target": 0.0,
                        "test_policy_loss": 3.0, "test_extra_part": 1.0}}
    table = grade.format_table(scores, maxima, ["alice", "bob"], {"bob": "timed out after 120 s"})
    head, _, alice, bob = table.splitlines()
    assert "action selection (/2)" in head and "test_extra_part (/1)" in head and "total (/11)" in head
    assert alice == "| alice | 2 | 2 | 0 | 3 | 1 | 8 |  |"
    assert bob.count("not graded") == 6 and bob.endswith("| timed out after 120 s |")


def test_score_table_shows_auto_manual_and_total():
    maxima = {"test_select_action": 2.0, "test_critic_prediction": 2.0, "test_critic_target": 3.0,
              "test_policy_loss": 3.0, "answer_q1": 2.0, "answer_q2": 3.0}
    scores = {"alice": {"test_select_action": 2.0, "test_critic_prediction": 2.0, "test_critic_target": 0.0,
                        "test_policy_loss": 3.0, "answer_q1": 1.5, "answer_q2": None}}
    table = grade.format_table(scores, maxima, ["alice"], manual={"answer_q1", "answer_q2"})
    head, _, alice = table.splitlines()
    assert head.endswith("| auto (/10) | manual (/5) | total (/15) | notes |")
    assert alice == "| alice | 2 | 2 | 0 | 3 | 7 | 1.5 (1 to grade) | 8.5 |  |"


# --------------------------------------------------------------------- the visible checks, in-process
from workshop_lib import checks as ddpg_checks  # noqa: E402

VISIBLE = {
    "test_select_action": [ddpg_checks.check_select_action],
    "test_critic_prediction": [ddpg_checks.check_critic_prediction],
    "test_critic_target": [ddpg_checks.check_critic_target],
    "test_policy_loss": [ddpg_checks.check_policy_step, ddpg_checks.check_target_update],
}


def _visible_failures(cls) -> dict[str, str]:
    failures = {}
    for part, checks in VISIBLE.items():
        try:
            for check in checks:
                check(cls)
        except (AssertionError, NotImplementedError) as err:
            failures[part] = f"{type(err).__name__}: {err}"
    return failures


@pytest.mark.parametrize("variant", [v for v in gc.CATALOG if v.name != "bad_act_hangs"], ids=lambda v: v.name)
def test_visible_checks_pass_every_correct_variant_and_flag_each_mistake(variant):
    """A visible check fails exactly for the parts the hidden tests take points from, with a hint."""
    failures = _visible_failures(gc.agent_class(STUDENT, MASTER, variant))
    lost = {gid for gid, pts in variant.expected.items() if pts < gc.POINTS[gid]}
    assert set(failures) == lost, failures
    for part, message in failures.items():
        if variant.pieces is not None:
            assert "Hint" in message or "NotImplementedError" in message, message


def test_reference_agent_of_solutions_passes_the_visible_checks():
    from solutions.ddpg_agent import DDPGAgent

    assert _visible_failures(DDPGAgent) == {}


def test_reference_agent_is_generated_from_the_master():
    """One reference agent: solutions/ddpg_agent.py is the master's class cells (run `make notebooks`)."""
    committed = (REPO / "solutions" / "ddpg_agent.py").read_text()
    assert committed == build_notebooks.reference_module_source(), "run `make notebooks` to regenerate it"


def test_parts_table_is_the_one_in_the_readme_and_the_notebook():
    """autograder/parts.py is the one table: the README shows it, the catalog and the master use its points."""
    from autograder import parts

    assert parts.markdown_table() in (REPO / "README.md").read_text(), \
        "README.md must hold autograder.parts.markdown_table() verbatim"
    assert gc.POINTS == parts.POINTS and parts.TOTAL == 10
    text = " ".join(c.source for c in nbformat.read(MASTER, as_version=4).cells if c.cell_type == "markdown")
    for part in parts.PARTS:
        assert re.search(rf"{part.title}[^.]*?{part.points:g} point", text, re.I) or \
            re.search(rf"{part.title} {part.points:g}", text, re.I), f"the notebook must state {part.title}'s points"


def test_grade_refuses_without_bubblewrap_and_names_the_install(tmp_path):
    course = build_notebooks.copy_course(tmp_path / "course")
    gc.write_submissions(course, STUDENT, MASTER, [gc.CATALOG[0]])
    env = {**os.environ, "PATH": str(tmp_path / "no-bwrap-here")}
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course)],
                          capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 2
    assert "apt-get install bubblewrap" in proc.stderr and "--no-sandbox" in proc.stderr
    assert not (course / "gradebook.db").exists(), "nothing is graded"


@pytest.mark.slow
def test_no_sandbox_grades_the_same_and_says_so(tmp_path):
    course = build_notebooks.copy_course(tmp_path / "course")
    variants = [v for v in gc.CATALOG if v.name in ("ok_reference", "bad_no_done_mask")]
    gc.write_submissions(course, STUDENT, MASTER, variants)
    proc = _grade(course, "--no-sandbox", "--jobs", "1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "NOT SANDBOXED" in proc.stdout
    assert _autograded(grade.read_scores(course)) == {v.name: v.expected for v in variants}
    for row in _table(proc.stdout)[2:]:
        assert row.endswith("| not sandboxed |"), row


def test_nbgrader_autograde_by_hand_refuses_outside_the_repository(tmp_path):
    """A bare `nbgrader autograde` without the trusted grader on the path refuses to grade (it would otherwise
    run the students' code unsandboxed with nbgrader's own Execute)."""
    course = build_notebooks.copy_course(tmp_path / "course")
    gc.write_submissions(course, STUDENT, MASTER, [gc.CATALOG[0]])
    env = {k: v for k, v in nbgrader_cli.nbgrader_env().items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "ddpg", "--force"], cwd=course,
                   env=env, check=True, capture_output=True)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ddpg"], cwd=course, env=env,
                          capture_output=True, text=True)
    assert "python -m autograder.grade" in proc.stdout + proc.stderr
    assert not (course / "autograded" / gc.CATALOG[0].name / "ddpg" / "ddpg_pendulum.ipynb").exists()
