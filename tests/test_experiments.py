"""compare(): settings x seeds in parallel processes, cached on disk, one figure with bootstrap bands and every
seed's curve."""

from __future__ import annotations

import json
import random
import time

import matplotlib
import nbformat
import numpy as np
import pytest
import torch

from solutions.ddpg_agent import DDPGAgent
from workshop_lib.experiments import BAND_METHOD, compare, confidence_interval, run_key, setting_label
from workshop_lib.experiments.progress import Reporter
from workshop_lib.train import Hyperparameters, seeded_setup, train_agent
from workshop_lib.utils import moving_average

matplotlib.use("Agg")

#: Runs of a fraction of a second: 4 episodes of 30 steps, tiny networks.
TINY = {"EPISODES": 4, "STEPS": 30, "WARMUP_EPISODES": 1, "DECAY_EPISODES": 2.0, "BATCH_SIZE": 8, "NUM_H": 1,
        "H": 8}
SETTINGS = {"LR = 1e-3": {"LR": 1e-3}, "LR = 1e-2": {"LR": 1e-2}}
REFERENCE = "solutions.ddpg_agent:DDPGAgent"


def run(tmp_path, settings=SETTINGS, seeds=2, **kwargs):
    kwargs.setdefault("agent", REFERENCE)
    kwargs.setdefault("base", TINY)
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    kwargs.setdefault("figure_dir", tmp_path / "figures")
    result = compare(settings, seeds, **kwargs)
    import matplotlib.pyplot as plt

    plt.close(result.figure)
    return result


# ------------------------------------------------------------------------------------------ statistics
def test_the_interval_is_scipys_percentile_bootstrap_and_stays_within_the_seeds():
    from scipy import stats

    values = np.array([-200.0, -180.0, -160.0, -2.0])
    low, high = confidence_interval(values)
    expected = stats.bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=10_000, method="percentile",
                               rng=np.random.default_rng(0)).confidence_interval
    assert (low, high) == pytest.approx((expected.low, expected.high))
    assert values.min() <= low < values.mean() < high <= values.max(), "a return the seeds never gave"
    assert confidence_interval(values) == (low, high), "the same data give the same interval"
    per_episode = np.stack([values, values * 2, np.full(4, -5.0)]).T  # seeds x episodes
    lows, highs = confidence_interval(per_episode, axis=0)
    assert lows.shape == highs.shape == (3,) and lows[1] == pytest.approx(2 * lows[0]) and lows[2] == highs[2] == -5.0
    assert all(np.isnan(confidence_interval([1.0])))
    assert "bootstrap" in BAND_METHOD and "scipy" in BAND_METHOD


def test_a_list_of_settings_is_labelled_by_what_it_changes():
    assert setting_label({"LR": 1e-2}) == "LR = 0.01"
    assert setting_label({"LR": 1e-2, "BATCH_SIZE": 16}) == "BATCH_SIZE = 16, LR = 0.01"
    assert setting_label({}) == "defaults"


# ------------------------------------------------------------------------------------ runs and results
def test_parallel_equals_serial_equals_the_main_jobs_seeding(tmp_path):
    parallel = run(tmp_path, processes=2, cache_dir=tmp_path / "a")
    serial = run(tmp_path, processes=1, cache_dir=tmp_path / "b")
    assert parallel.trained == serial.trained == 4 and parallel.seeds == [0, 1]
    for label in SETTINGS:
        assert parallel.returns[label].shape == (2, TINY["EPISODES"])
        assert np.array_equal(parallel.returns[label], serial.returns[label]), label
    # seed 1 of the second setting, trained directly as `python -m workshop_lib.train --seed 1` does
    hp = Hyperparameters(**{**TINY, "LR": 1e-2})
    env, agent = seeded_setup(hp, 1, agent_spec=DDPGAgent)
    direct = train_agent(agent, env, hp, progress=False, log=None)["returns"]
    assert np.array_equal(serial.returns["LR = 1e-2"][1], direct)


def test_a_class_that_cannot_be_imported_by_name_is_trained_too(tmp_path):
    """As the notebook's DDPGAgent (built in __main__ by jdc): the workers must use the class itself."""

    class NotebookAgent(DDPGAgent):  # local: no process can import it by name
        def select_action(self, state):
            return super().select_action(state) * 0.0  # a recognisable behaviour: never pushes

    result = run(tmp_path, settings={"frozen": {}}, agent=NotebookAgent, processes=2)
    reference = run(tmp_path, settings={"frozen": {}}, agent=REFERENCE, processes=1, cache_dir=tmp_path / "ref")
    assert result.trained == 2
    assert not np.array_equal(result.returns["frozen"], reference.returns["frozen"]), \
        "the workers trained the reference class instead of the one passed"
    serial = run(tmp_path, settings={"frozen": {}}, agent=NotebookAgent, processes=1, cache_dir=tmp_path / "s")
    assert np.array_equal(result.returns["frozen"], serial.returns["frozen"])


def test_rerun_is_served_from_the_cache(tmp_path):
    first = run(tmp_path)
    files = sorted((tmp_path / "cache").glob("*.json"))
    assert len(files) == 4 and first.from_cache == 0
    start = time.perf_counter()
    again = run(tmp_path)
    assert again.from_cache == 4 and again.trained == 0
    assert time.perf_counter() - start < 5
    for label in SETTINGS:
        assert np.array_equal(first.returns[label], again.returns[label])
    record = json.loads(files[0].read_text())
    assert {"label", "seed", "hyperparameters", "returns", "wall_time_s"} <= set(record)


def test_an_interrupted_sweep_resumes_with_the_missing_runs(tmp_path):
    full = run(tmp_path, cache_dir=tmp_path / "full")
    run(tmp_path, seeds=[0])  # as if the sweep had been interrupted after the seed-0 runs
    files = sorted((tmp_path / "cache").glob("*.json"))
    files[0].write_text('{"format": 1, "returns": [')  # a run cut while being written is not trusted
    resumed = run(tmp_path)
    assert resumed.from_cache == 1 and resumed.trained == 3
    for label in SETTINGS:
        assert np.array_equal(full.returns[label], resumed.returns[label])


def test_interrupt_stops_the_workers_and_keeps_finished_runs(tmp_path, monkeypatch):
    calls = []
    finished = Reporter.finished

    def interrupt_after_first(self, record):
        finished(self, record)
        calls.append(record)
        raise KeyboardInterrupt

    monkeypatch.setattr(Reporter, "finished", interrupt_after_first)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, processes=2)
    monkeypatch.undo()
    resumed = run(tmp_path)
    assert len(calls) == 1 and resumed.from_cache >= 1 and resumed.trained <= 3


def test_cache_key_hashes_every_library_module_a_run_imports():
    # An edit to a module the training loop runs (say noise.py, which NOISE = "ou" runs use) must retrain, not
    # serve a stale run: every workshop_lib module loop.py reaches through its imports is hashed into the key.
    import ast
    from pathlib import Path

    from workshop_lib.experiments import cache

    lib = Path(cache.__file__).resolve().parents[1]
    reached, todo = set(), ["loop.py"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        for node in ast.walk(ast.parse((lib / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workshop_lib."):
                todo.append(node.module.removeprefix("workshop_lib.").replace(".", "/") + ".py")
    reached.discard("loading.py")  # finds the agent's class; what it loads is hashed by the class's own code
    assert reached <= set(cache._LIBRARY_FILES), f"not hashed: {sorted(reached - set(cache._LIBRARY_FILES))}"


def test_cache_key_follows_everything_a_run_depends_on():
    hp = Hyperparameters(**TINY)
    key = run_key(hp, 0, DDPGAgent)
    assert key == run_key(Hyperparameters(**TINY), 0, DDPGAgent)
    assert key != run_key(Hyperparameters(**{**TINY, "GAMMA": 0.9}), 0, DDPGAgent)
    assert key != run_key(hp, 1, DDPGAgent)
    assert key != run_key(hp, 0, DDPGAgent, env_id="MountainCarContinuous-v0")

    def make(scale):  # a class defined by running a cell again, as jdc's %%add_to does in the notebook
        namespace = {"DDPGAgent": DDPGAgent}
        exec("class Agent(DDPGAgent):\n"  # noqa: S102 - our own test code
             "    def select_action(self, state):\n"
             f"        return super().select_action(state) * {scale}\n", namespace)
        return namespace["Agent"]

    first, same_code, edited = make(1.0), make(1.0), make(0.5)
    assert run_key(hp, 0, first) == run_key(hp, 0, same_code), "the same code must share the cache"
    assert run_key(hp, 0, first) != run_key(hp, 0, edited), "an edited method must not be served stale"


def test_an_integer_for_a_float_field_is_the_same_run(tmp_path):
    as_float = run(tmp_path, settings={"x": {"LR": 1.0}}, seeds=1, processes=1)
    as_int = run(tmp_path, settings={"x": {"LR": 1}}, seeds=1, processes=1)
    assert as_int.from_cache == 1 and as_int.hyperparameters["x"].LR == 1.0 and as_float.trained == 1


def test_serial_runs_leave_the_global_random_generators_as_they_were(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    threads = torch.get_num_threads()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    run(tmp_path, processes=1)
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert torch.get_num_threads() == threads


# -------------------------------------------------------------------------------- figure and reporting
def test_one_figure_with_a_mean_curve_and_a_band_per_setting(tmp_path):
    result = compare([{"LR": 1e-3}, {"LR": 1e-2}], 3, agent=REFERENCE, base=TINY, cache_dir=tmp_path / "cache",
                     figure_dir=tmp_path / "figures", smooth=2)
    try:
        (ax,) = result.figure.axes
        assert len(ax.lines) == 2 * (1 + 3) and len(ax.collections) == 2, "per setting: a mean, 3 seeds, a band"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["LR = 0.001: mean of 3 seeds", "LR = 0.001: each seed", "LR = 0.01: mean of 3 seeds",
                          "LR = 0.01: each seed"]
        title = ax.get_title()
        assert "4 episodes, seeds 0-2: LR = 0.001 vs LR = 0.01" in title and BAND_METHOD in title
        mean_curve = ax.lines[0].get_ydata()
        smoothed = np.stack([moving_average(r, 2) for r in result.returns["LR = 0.001"]])
        assert np.allclose(mean_curve, smoothed.mean(axis=0))
        assert np.allclose(ax.lines[1].get_ydata(), result.returns["LR = 0.001"][0]), "each seed unsmoothed"
        band = ax.collections[0].get_paths()[0].vertices[:, 1]
        assert band.max() <= result.returns["LR = 0.001"].max() + 1e-9, "the band stays within the seeds"
    finally:
        import matplotlib.pyplot as plt

        plt.close(result.figure)
    path = tmp_path / "figures"
    assert result.figure_path is not None and result.figure_path.startswith(str(path))
    assert (path / result.figure_path.split("/")[-1]).stat().st_size > 5000
    assert "compare_LR_=_0.001_vs_LR_=_0.01_3seeds_ep4_" in result.figure_path, "the file name says what it shows"
    other = run(tmp_path, settings={"LR = 1e-3": {"LR": 1e-3}})
    assert other.figure_path != result.figure_path, "another comparison must not overwrite this figure"
    table = result.summary()
    assert "| LR = 0.001 | 3 |" in table and "95% interval" in table and BAND_METHOD in table
    assert "6 runs trained, 0 read from the cache" in table
    assert result.separated("LR = 0.001", "LR = 0.01") in (True, False)


def test_one_seed_has_no_band(tmp_path):
    result = run(tmp_path, seeds=1)
    (ax,) = result.figure.axes
    assert len(ax.collections) == 0 and "no band" in ax.get_title()
    assert "±" not in result.summary()


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path, capsys):
    run(tmp_path, processes=2)
    out = capsys.readouterr().out
    assert "4 runs to train, 0 from the cache; 2 processes (fork)" in out
    assert out.count("done:") == 4 and "run 4/4 done" in out
    run(tmp_path)
    assert "all 4 runs from the cache" in capsys.readouterr().out
    run(tmp_path, progress=False, cache_dir=tmp_path / "quiet")
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------ clear errors
@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"settings": {"a": {"lr": 1e-3}}}, ValueError, "unknown hyperparameter 'lr'.*Did you mean 'LR'"),
    ({"settings": {"a": {"LR": -1.0}}}, ValueError, "setting 'a': LR must be positive"),
    ({"settings": [1e-3]}, TypeError, "non-empty list of overrides or dict of label -> overrides"),
    ({"settings": [{"LR": 1e-3}, {"LR": 0.001}]}, ValueError, "settings must be distinct"),
    ({"settings": {"a": 1e-3}}, TypeError, "setting 'a' must be a dict of hyperparameter overrides"),
    ({"seeds": 0}, ValueError, "positive number of seeds"),
    ({"seeds": [0, 0]}, ValueError, "distinct"),
    ({"seeds": "3"}, TypeError, "number of seeds"),
    ({"agent": DDPGAgent(3, 1, 2.0)}, TypeError, "without parentheses"),
    ({"processes": 0}, ValueError, "processes must be a positive integer"),
    ({"confidence": 95}, ValueError, "between 0 and 1"),
])
def test_bad_arguments_say_what_was_expected(tmp_path, kwargs, error, match):
    args = {"settings": SETTINGS, "seeds": 2, "agent": REFERENCE, "base": TINY, "cache_dir": tmp_path}
    args.update(kwargs)
    settings, seeds = args.pop("settings"), args.pop("seeds")
    with pytest.raises(error, match=match):
        compare(settings, seeds, **args)


def test_a_failing_run_is_named_and_the_others_are_kept(tmp_path):
    class Broken(DDPGAgent):
        def backward(self):
            if self.gamma < 0.5:
                raise ZeroDivisionError("student bug")
            return super().backward()

    settings = {"fine": {}, "broken": {"GAMMA": 0.1}}
    with pytest.raises(RuntimeError, match=r"setting 'broken' with seed \d failed(.|\n)*ZeroDivisionError"):
        run(tmp_path, settings=settings, agent=Broken, processes=1)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2, "the runs that finished are cached"


# ------------------------------------------------------------------------------------------ the notebook
def _compare_cell(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "code" and "compare(" in c.source]
    assert len(cells) == 1, f"expected one cell that calls compare() in {path.name}"
    return cells[0]


def test_master_uses_compare_for_a_question_and_skips_it_while_grading(repo):
    source = _compare_cell(repo / "autograder/course/source/ddpg/ddpg_pendulum.ipynb").source
    assert "if not GRADING" in source and "agent=DDPGAgent" in source and "seeds=6" in source


def test_the_comparison_never_reads_the_hyperparameter_cell(repo):
    """Rerunning the notebook from the hyperparameter cell with other values must not change the comparison (it
    then comes from the cache) nor leave a figure titled with settings that did not make it."""
    import ast
    import dataclasses

    source = _compare_cell(repo / "autograder/course/source/ddpg/ddpg_pendulum.ipynb").source
    read = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    knobs = {f.name for f in dataclasses.fields(Hyperparameters)} | {"SEED", "run_name"}
    assert not read & knobs, f"the comparison cell reads {sorted(read & knobs)} from the hyperparameter cell"


def test_the_solution_notebook_shows_the_comparison_figure(repo):
    cell = _compare_cell(repo / "solutions/ddpg_pendulum_solution.ipynb")
    assert not any(o.output_type == "error" for o in cell.outputs)
    assert any("image/png" in o.get("data", {}) for o in cell.outputs), "the figure is missing from the output"


def test_compare_benchmark_quick_run(repo):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_compare", "--quick"], cwd=repo, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "returns identical, run for run: **yes**" in proc.stdout
    assert "rerun from the cache" in proc.stdout and "(6 runs cached)" in proc.stdout
