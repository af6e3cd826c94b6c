"""The headless main job: loop semantics, determinism, the command line and its JSON summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from solutions.ddpg_agent import DDPGAgent
from workshop_lib.env_wrapper import make_env
from workshop_lib.train import Hyperparameters, build_agent, epsilon_at, run, run_episode, train_agent

REFERENCE = "solutions.ddpg_agent:DDPGAgent"
SHORT = dict(EPISODES=4, STEPS=50, WARMUP_EPISODES=2, DECAY_EPISODES=3, BATCH_SIZE=16, H=16)


def test_epsilon_schedule_is_linear_then_constant():
    values = [epsilon_at(k, 0.4, 0.1, 3) for k in range(6)]
    assert np.allclose(values, [0.4, 0.3, 0.2, 0.1, 0.1, 0.1])
    assert epsilon_at(10, 0.1, 0.5, 4) == 0.5  # increasing schedules stop at their end too


def test_warmup_then_one_update_per_update_freq():
    hp = Hyperparameters(**{**SHORT, "UPDATE_FREQ": 5})
    env = make_env("Pendulum-v1", steps=hp.STEPS)
    agent = build_agent(DDPGAgent, env, hp)
    result = train_agent(agent, env, hp, progress=False, log=None)
    assert len(result["returns"]) == 4
    assert result["updates"] == (4 - 2) * 50 // 5
    assert len(agent.rb) == 4 * 50, "warm-up transitions are stored too"
    assert np.isclose(agent.epsilon, epsilon_at(3, hp.EPSILON_START, hp.EPSILON_END, hp.DECAY_EPISODES))


def test_run_episode_follows_the_horizon_and_stores_no_terminal_for_the_cut():
    env = make_env("Pendulum-v1", steps=1000)
    agent = DDPGAgent(3, 1, 2.0)
    run_episode(agent, env, learn=True, update=False)
    assert len(agent.rb) == 1000
    assert float(agent.rb._done[:1000].sum()) == 0.0, "a time-limit cut must not be stored as done"


def test_same_seed_same_returns(tmp_path):
    hp = Hyperparameters(**SHORT)
    kwargs = dict(agent_spec=REFERENCE, eval_episodes=2, store_path=str(tmp_path), progress=False, log=None)
    first = run(hp, seed=3, **kwargs)
    second = run(hp, seed=3, **kwargs)
    other = run(hp, seed=4, **kwargs)
    assert first["returns"] == second["returns"]
    assert first["eval_returns"] == second["eval_returns"]
    assert first["returns"] != other["returns"]


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match="BATCH_SIZE"):
        run(Hyperparameters(BATCH_SIZE=0), agent_spec=REFERENCE, progress=False, log=None)
    with pytest.raises(ValueError, match="GAMMA"):
        run(Hyperparameters(GAMMA=1.5), agent_spec=REFERENCE, progress=False, log=None)


def test_command_line_writes_figure_and_json(tmp_path, repo):
    out = tmp_path / "summary.json"
    cmd = [sys.executable, "-m", "workshop_lib.train", "--episodes", "3", "--steps", "40", "--warmup-episodes", "1",
           "--epsilon-start", "0.3", "--epsilon-end", "0.1", "--decay-episodes", "2", "--gamma", "0.97",
           "--update-freq", "2", "--lr", "0.002", "--batch-size", "8", "--num-h", "1", "--h", "8", "--seed", "5",
           "--env", "Pendulum-v1", "--polyak", "0.99", "--eval-episodes", "2", "--store-path", str(tmp_path / "figs"),
           "--json", str(out), "--no-progress", "--agent", REFERENCE]
    # Run from another folder: the repository (where `solutions` lives) comes from PYTHONPATH, as for any module.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "GREEDY RETURN" in proc.stdout and "EPISODE    3/3" in proc.stdout
    assert proc.stdout.startswith(f"AGENT: {REFERENCE} "), "the run says which agent it trains"
    summary = json.loads(out.read_text())
    assert len(summary["returns"]) == 3 and summary["seed"] == 5 and summary["updates"] == 2 * 40 // 2
    assert summary["wall_time_s"] > 0 and isinstance(summary["eval_mean_return"], float)
    assert summary["hyperparameters"] == {
        "EPISODES": 3, "STEPS": 40, "WARMUP_EPISODES": 1, "EPSILON_START": 0.3, "EPSILON_END": 0.1,
        "DECAY_EPISODES": 2.0, "GAMMA": 0.97, "UPDATE_FREQ": 2, "LR": 0.002, "BATCH_SIZE": 8, "NUM_H": 1, "H": 8,
        "POLYAK": 0.99, "NOISE": "gaussian", "ENV_ID": "Pendulum-v1"}
    assert (tmp_path / "figs").is_dir() and summary["figure"].endswith(".png")
    assert "_rho0.99" in summary["run_name"] and "Pendulum-v1" in summary["run_name"]
    assert (tmp_path / "figs" / (summary["run_name"] + "_001.png")).stat().st_size > 1000


def test_mountain_car_runs_too(tmp_path):
    hp = Hyperparameters(**SHORT)
    summary = run(hp, env_id="MountainCarContinuous-v0", agent_spec=REFERENCE, eval_episodes=1,
                  store_path=str(tmp_path), progress=False, log=None)
    assert len(summary["returns"]) == 4
    assert "MountainCarContinuous-v0" in summary["run_name"]
    assert summary["hyperparameters"]["ENV_ID"] == "MountainCarContinuous-v0"


def test_mountain_car_with_correlated_noise_and_figures_kept_apart(tmp_path):
    """The notebook's MountainCar settings run end to end (shortened); a rerun saves a second figure."""
    hp = Hyperparameters(**{**SHORT, "ENV_ID": "MountainCarContinuous-v0", "NOISE": "ou", "POLYAK": 0.99})
    first = run(hp, agent_spec=REFERENCE, eval_episodes=1, store_path=str(tmp_path), progress=False, log=None)
    second = run(hp, agent_spec=REFERENCE, eval_episodes=1, store_path=str(tmp_path), progress=False, log=None)
    assert first["returns"] == second["returns"], "the correlated noise is seeded with the run"
    assert first["run_name"].endswith("_rho0.99_ou")
    assert first["figure"] != second["figure"] and first["figure"].endswith("_001.png")
    assert second["figure"].endswith("_002.png")


def test_env_id_option_and_the_older_env_option_agree():
    from workshop_lib.train import parse_args

    assert parse_args(["--env-id", "MountainCarContinuous-v0"]).ENV_ID == "MountainCarContinuous-v0"
    assert parse_args(["--env", "MountainCarContinuous-v0"]).ENV_ID == "MountainCarContinuous-v0"
    assert parse_args(["--noise", "ou", "--polyak", "0"]).NOISE == "ou"
    with pytest.raises(SystemExit):
        parse_args(["--noise", "pink"])


def test_polyak_goes_to_the_agent():
    hp = Hyperparameters(**{**SHORT, "POLYAK": 0.0})
    env = make_env("Pendulum-v1", steps=hp.STEPS)
    assert build_agent(DDPGAgent, env, hp).polyak == 0.0
    with pytest.raises(ValueError, match="POLYAK"):
        run(Hyperparameters(POLYAK=1.5), agent_spec=REFERENCE, progress=False, log=None)
    with pytest.raises(ValueError, match="NOISE"):
        run(Hyperparameters(NOISE="pink"), agent_spec=REFERENCE, progress=False, log=None)


def test_unknown_agent_is_a_clear_error():
    with pytest.raises(ValueError, match="module:Class"):
        run(Hyperparameters(**SHORT), agent_spec="solutions.ddpg_agent", progress=False, log=None)


def test_the_command_line_needs_the_agent_class(tmp_path):
    """No default agent: the library never reaches into the repository's solutions/ folder by itself."""
    proc = subprocess.run([sys.executable, "-m", "workshop_lib.train", "--episodes", "1"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "EPISODE" not in proc.stdout
    assert "expected --agent MODULE:CLASS" in proc.stderr and "Fix: add e.g. --agent" in proc.stderr, proc.stderr


def test_after_episode_hook_can_stop_and_is_not_timed():
    hp = Hyperparameters(**{**SHORT, "EPISODES": 10})
    env = make_env("Pendulum-v1", steps=hp.STEPS)
    agent = build_agent(DDPGAgent, env, hp)
    seen = []

    def hook(episode, agent_):
        seen.append(episode)
        time.sleep(0.5)
        return episode == 2

    outer_start = time.perf_counter()
    result = train_agent(agent, env, hp, progress=False, log=None, after_episode=hook)
    outer = time.perf_counter() - outer_start
    assert seen == [0, 1, 2] and len(result["returns"]) == 3
    assert outer - result["wall_time_s"] >= 1.5, "the hook's 1.5 s of sleeping must not be counted"


@pytest.mark.slow
def test_default_hyperparameters_solve_pendulum(tmp_path):
    """Item 5 of the foundations issue, for one seed: the default run reaches a greedy mean >= -200."""
    summary = run(Hyperparameters(), agent_spec=REFERENCE, seed=0, store_path=str(tmp_path), progress=False, log=None)
    assert summary["eval_mean_return"] >= -200, summary["eval_returns"]


def test_run_episode_updates_only_when_asked():
    env = make_env("Pendulum-v1", steps=20)
    agent = DDPGAgent(3, 1, 2.0, batch_size=8, hidden_units=8)
    calls = []
    backward = agent.backward
    agent.backward = lambda: calls.append(1) or backward()
    run_episode(agent, env, learn=True, update=False)
    assert calls == [] and len(agent.rb) == 20
    run_episode(agent, env)  # the default learns and updates
    assert len(calls) == 20
    seen = []
    run_episode(agent, env, update_freq=5, on_update=lambda td, pl: seen.append((td, pl)))
    assert len(seen) == 4 and len(calls) == 24
    run_episode(agent, env, learn=False)
    assert len(calls) == 24 and len(agent.rb) == 60
