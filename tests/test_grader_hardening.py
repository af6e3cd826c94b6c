"""Fast regression tests of the grader's defences that tests/test_hostile.py found missing (the hostile catalog
shows each one through a real grading run; these pin the pieces down in seconds)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from autograder import outputs, verdict
from autograder.sandbox import MemoryGroup, Sandbox, plain_library_copy, uid_lease
from workshop_lib.grading.limits import SandboxLimits


@pytest.fixture(scope="module")
def reference_records():
    from solutions.ddpg_agent import DDPGAgent
    from workshop_lib.grading import probe

    records: list = []
    probe.run_probes(DDPGAgent, probe.make_fixtures(DDPGAgent, 7), records.append, visible=False)
    return records


def test_forged_records_fail_the_parts_and_never_crash_the_decision(reference_records):
    huge = 10**400  # json.loads gives a Python int that no float holds
    forged = [
        {"probe": "select_action", "case": 0,
         "values": {"greedy": [{"type": "ndarray", "shape": [1], "data": [huge]}]}},
        {"probe": "select_action", "case": 1, "values": {"greedy": 5, "noisy": 5, "big": 5}},
        {"probe": "backward", "case": 0, "values": {
            "qs_selected": {"type": "tensor", "shape": [1], "data": [huge], "requires_grad": True},
            "qs_target": {"type": "tensor", "shape": [1], "data": [huge]}, "critic_grads": [[[huge]]],
            "actor_grads": 7, "returned": [{"data": huge}, {"data": huge}], "returned_is_tuple": True}},
        {"probe": "backward", "case": 1, "values": []},
        {"probe": "visible_checks", "case": 0, "values": [1]},
    ]
    verdicts = verdict.decide(forged, reference_records)
    assert [v.passed for v in verdicts] == [False] * 4


FORGED = "Your code is correct, the grader crashed; ask for full marks.\x1b]0;x\x07"


@pytest.mark.parametrize("records", [
    [{"probe": "agent", "case": 0, "error": FORGED}],
    [{"probe": "select_action", "case": 0, "error": FORGED}, {"probe": "backward", "case": 0, "error": FORGED}],
    [{"probe": "select_action", "case": 0, "values": {"error": FORGED}},
     {"probe": "backward", "case": 0, "values": {"error": FORGED, "qs_selected": {"type": "NoneType"}}},
     {"probe": "visible_checks", "case": 0, "values": {"check_select_action": FORGED}}],
], ids=["agent", "probe-error", "values-error"])
def test_text_from_the_sandbox_is_quoted_never_the_graders_own(reference_records, records):
    """A submission can write anything on its channel before the probe starts: its text may appear in a message,
    but only quoted after "your run reported" (or as the notebook's check), escaped, never as the grader's words."""
    for v in verdict.decide(records, reference_records):
        assert not v.passed
        if "Your code is correct" in v.message:
            assert v.message.count("«") == v.message.count("»") >= 1, v.message
            start = v.message.index("«")
            assert "Your code is correct" in v.message[start:] and "Your code is correct" not in v.message[:start]
            assert v.message[:start].rstrip().endswith(("your run reported:", "The notebook's check says:"))
        assert "\x1b" not in v.message and "\x07" not in v.message


def test_malformed_outputs_are_dropped_or_repaired():
    kept, _ = outputs.sanitize_outputs([{"output_type": "error", "ename": {}, "evalue": [1], "traceback": 5},
                                        {"output_type": "display_data", "data": 7}, 5], 10_000)
    assert kept == [{"output_type": "error", "ename": "", "evalue": "", "traceback": []}]


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[a](javascript:alert(1))",
    "[b](jav&#x61;script:alert(2))", "<javascript:alert(4)>", "<iframe src='javascript:alert(5)'></iframe>",
    "<IMG SRC=JaVaScRiPt:alert(6)>", "<svg><script>alert(7)</script></svg>"])
def test_markdown_cells_lose_scripts_and_handlers(source):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    html = markdown2html_mistune(outputs.safe_markdown(source)).lower()
    assert "<script" not in html and "onerror=" not in html and 'href="javascript' not in html
    assert 'src="javascript' not in html


def test_the_assignments_own_markdown_is_left_as_written():
    import nbformat

    nb = nbformat.read(Path(__file__).resolve().parent.parent / "autograder" / "course" / "source" / "ddpg" /
                       "ddpg_pendulum.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert outputs.safe_markdown(cell.source) == cell.source
    for honest in ("a < b and `x<y` > 3", "![plot](attachment:plot.png)", "[section](#Exercise-1:-action)",
                   "<details><summary><b>Hint</b></summary>use <code>torch.cat</code></details>"):
        assert outputs.safe_markdown(honest) == honest


def test_an_endless_line_on_the_channel_is_cut_at_the_stream_cap(tmp_path):
    """Unsandboxed run (the reading is the same): one line with no end must not be buffered whole."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    box = Sandbox(plain_library_copy(tmp_path / "lib"), SandboxLimits(wall_seconds=30), stream_bytes=2_000_000,
                  enabled=False)
    start = time.perf_counter()
    result = box.run(scratch, [sys.executable, "-c", "import os\nwhile True: os.write(1, b'x' * 65536)"])
    assert result.reason == "output over 2 MB"
    assert time.perf_counter() - start < 20


@pytest.mark.skipif(os.geteuid() != 0, reason="user ids are leased only when the grader runs as root")
def test_user_id_leases_are_exclusive():
    with uid_lease(start=100) as first, uid_lease(start=100) as second:
        assert first != second
    with uid_lease(start=100) as again:
        assert again == first


def test_memory_group_caps_processes_together_where_available():
    group = MemoryGroup.create(f"ddpg-test-{os.getpid()}", 64 * 1024**2)
    if group is None:
        pytest.skip("no memory cgroup may be made here")
    group.close()
    assert not group.path.exists()
