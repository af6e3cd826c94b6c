"""workshop_lib/grading/speed.py: the imports the grading runs skip, and that skipping them changes no value.

Each check runs in a fresh interpreter: the test process may have imported torch._dynamo or nbformat already.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

def run_fresh(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


TRAIN = """
def train(seed):
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(torch.ones(4, 3)).pow(2).sum().backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.add_param_group  # noqa: B018 - touched, not called
    return [p.detach().tolist() for p in net.parameters()], opt.state_dict()["param_groups"][0]["lr"]
"""


def test_an_agent_builds_its_optimizers_without_importing_dynamo():
    got = run_fresh(f"""
        import json, sys, torch
        from workshop_lib.grading import speed
        deferred = speed.defer_dynamo_import()
        {textwrap.indent(TRAIN, " " * 8).strip()}
        weights, lr = train(0)
        print(json.dumps({{"deferred": deferred, "dynamo": "torch._dynamo" in sys.modules, "weights": weights,
                          "again": speed.defer_dynamo_import()}}))
    """)
    assert got["deferred"] > 0  # the optimizers' wrapped functions were found
    assert not got["dynamo"], "building and zeroing an optimizer imported torch._dynamo"
    assert got["again"] == 0  # each function is given its wrapper once
    plain = run_fresh(f"""
        import json, torch
        {textwrap.indent(TRAIN, " " * 8).strip()}
        weights, lr = train(0)
        print(json.dumps({{"weights": weights}}))
    """)
    assert got["weights"] == plain["weights"]  # the same values as PyTorch left alone


def test_a_real_step_and_a_compile_still_get_pytorchs_own_wrapper():
    got = run_fresh("""
        import json, sys, torch
        from workshop_lib.grading import speed
        speed.defer_dynamo_import()
        p = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.Adam([p], lr=0.1)
        (p ** 2).sum().backward()
        opt.step()  # imports torch._dynamo (PyTorch's step does, whatever this module did)
        opt.zero_grad()  # now through torch._dynamo.disable
        fn = torch.optim.Optimizer.zero_grad.__closure__[0].cell_contents
        print(json.dumps({"dynamo": "torch._dynamo" in sys.modules, "p": p.detach().tolist(),
                          "real": fn.__dynamo_disable.__code__.co_filename}))
    """)
    assert got["dynamo"]
    assert all(abs(x - 0.9) < 1e-6 for x in got["p"])  # Adam's first step: lr, against the gradient
    assert "speed.py" not in got["real"], got  # PyTorch's own disable wrapper replaced the deferred one


def test_defer_does_nothing_once_dynamo_is_imported():
    got = run_fresh("""
        import json, torch, torch._dynamo
        from workshop_lib.grading import speed
        print(json.dumps({"deferred": speed.defer_dynamo_import()}))
    """)
    assert got["deferred"] == 0


def test_the_notebook_runner_reads_and_validates_notebooks_without_the_iri_grammar():
    got = run_fresh("""
        import json, sys
        from workshop_lib.grading import notebook_runner  # noqa: F401 - it skips the grammar on import
        import nbformat
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
        nbformat.validate(nb)
        bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
        bad.cells[0]["outputs"] = [{"output_type": "not a type"}]
        try:
            nbformat.validate(bad)
            refused = False
        except nbformat.ValidationError:
            refused = True
        print(json.dumps({"grammar": sys.modules.get("rfc3987_syntax", "missing") is not None, "refused": refused}))
    """)
    assert not got["grammar"]
    assert got["refused"]  # validation itself is as strict as before


def test_nbgrader_runs_through_the_launcher_without_the_iri_grammar(tmp_path):
    from autograder import nbgrader_cli

    status, log = nbgrader_cli.run_nbgrader(["--version"], tmp_path, show="nothing")
    assert status == 0 and log.strip(), log
    code = nbgrader_cli.nbgrader_command(["x"])[2]
    proc = subprocess.run([sys.executable, "-c", code.replace("main()", "print(sys.modules.get('rfc3987_syntax', "
                                                                     "'missing') is None)")],
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "True", proc.stderr[-2000:]  # nbgrader imported, the grammar not


STEPS = """
def steps(seed, **adam):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.1, **adam)
    grad_mode = []
    for _ in range(4):
        opt.zero_grad()
        net(torch.ones(5, 3)).pow(2).sum().backward()
        opt.step()
        grad_mode.append(torch.is_grad_enabled())
    return [p.detach().tolist() for p in net.parameters()], grad_mode
"""


def test_the_kernels_optimizers_step_without_importing_dynamo_and_with_the_same_values():
    runs = {}
    for name, setup in (("deferred", "from workshop_lib.grading import speed\n"
                                     "speed.defer_dynamo_import_when_torch_loads()\n"
                                     "import importlib.util\nimportlib.util.find_spec('torch')  # a lookup only\n"),
                        ("plain", "")):
        runs[name] = run_fresh(setup + textwrap.dedent(f"""
            import json, sys, torch
            {textwrap.indent(STEPS, " " * 12).strip()}
            kinds = (("default", {{}}), ("fused", {{"fused": True}}), ("foreach", {{"foreach": True}}),
                     ("single", {{"foreach": False}}))
            out = {{k: steps(0, **kw) for k, kw in kinds}}
            print(json.dumps({{"dynamo": "torch._dynamo" in sys.modules, "out": out}}))
        """))
    assert not runs["deferred"]["dynamo"], "an optimizer's step imported torch._dynamo in the grading kernel"
    assert runs["plain"]["dynamo"]  # PyTorch left alone imports it: the test would see a saving lost
    assert runs["deferred"]["out"] == runs["plain"]["out"]  # the same weights, the same grad mode after each step


def test_a_compile_in_the_kernel_gets_pytorchs_graph_breaks_back():
    got = run_fresh(f"""
        import json, sys
        from workshop_lib.grading import speed
        speed.defer_dynamo_import_when_torch_loads()
        import torch
        {textwrap.indent(STEPS, " " * 8).strip()}
        before = steps(0)
        import torch._dynamo
        calls = []
        real = torch._dynamo.graph_break
        torch._dynamo.graph_break = lambda *a, **k: calls.append(1) or real(*a, **k)
        after = steps(0)
        print(json.dumps({{"same": before == after, "graph_breaks": len(calls)}}))
    """)
    assert got["same"]
    assert got["graph_breaks"] == 8  # two per step, as PyTorch's own wrapper makes them, once dynamo is imported


def test_the_notebook_runner_starts_a_kernel_without_debugger_or_dynamo(tmp_path):
    import nbformat

    probe = ("import sys\nimport torch\nopt = torch.optim.Adam(torch.nn.Linear(2, 1).parameters())\n"
             "torch.nn.Linear(2, 1)(torch.ones(1, 2)).sum().backward()\nopt.step()\n"
             "print(sorted(m for m in ('debugpy', 'torch._dynamo', 'ipykernel') if sys.modules.get(m)), sys.argv[0])")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    nbformat.write(nb, tmp_path / "nb.ipynb")
    proc = subprocess.run([sys.executable, "-m", "workshop_lib.grading.notebook_runner", "nb.ipynb"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
                               "HOME": str(tmp_path), "JUPYTER_PLATFORM_DIRS": "1"})
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert records[-1] == {"event": "done"}, proc.stdout[-2000:]
    text = "".join(o.get("text", "") for o in records[0]["outputs"])
    assert text.startswith("['ipykernel'] "), text  # neither the debugger nor torch._dynamo was imported
    assert text.strip().endswith("workshop_lib/grading/kernel.py"), text  # the kernel the runner starts


def test_the_sandboxes_library_copy_loads_from_bytecode_compiled_from_its_own_sources(tmp_path):
    from autograder.sandbox import plain_library_copy

    lib = plain_library_copy(tmp_path / "lib")
    got = run_fresh(f"""
        import json, sys
        import importlib.machinery
        from pathlib import Path
        compiled = []
        for path in sorted(Path({str(lib)!r}).rglob("*.py")):
            loader = importlib.machinery.SourceFileLoader("m", str(path))
            loader.source_to_code = lambda data, where, *a, **k: compiled.append(where) or compile(data, where, "exec")
            loader.get_code("m")
        print(json.dumps({{"compiled": [str(c) for c in compiled]}}))
    """)
    assert got["compiled"] == []  # every module of the copy has valid bytecode: no sandboxed run compiles it


def test_the_compiled_library_is_remade_when_a_source_changes(tmp_path):
    import os

    from autograder import sandbox

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("X = 1\n")
    with sandbox._compiled_lock:
        first = sandbox._compiled_library(package)
        assert sandbox._compiled_library(package) == first  # once per process
        (package / "a.py").write_text("X = 22\n")
        os.utime(package / "a.py", ns=(1, 1))
        second = sandbox._compiled_library(package)
    assert second != first and not first.exists()
    assert (second / "a.py").read_text() == "X = 22\n"
    assert list((second / "__pycache__").glob("a.*.pyc"))
@pytest.mark.parametrize("module", ["autograder.grade", "autograder.hub.pregrade", "autograder.feedback"])
def test_host_commands_import_nbformat_without_the_iri_grammar(module):
    """Every host process (``make grade``, the pre-grading service's batches, ``make feedback``) starts without
    building jsonschema's IRI grammar: ``autograder/__init__.py`` skips it before anything imports nbformat."""
    got = run_fresh(f"""
        import json, sys
        import {module}  # noqa: F401
        print(json.dumps({{"nbformat": "nbformat" in sys.modules,
                          "grammar": sys.modules.get("rfc3987_syntax", "missing") is not None}}))
    """)
    assert got == {"nbformat": True, "grammar": False}
