"""utils: seeding, run names, the learning-curve figure."""

from __future__ import annotations

import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from workshop_lib.utils import create_run_name, moving_average, set_seed, visualize_result  # noqa: E402


def test_set_seed_seeds_all_three():
    draws = []
    for _ in range(2):
        set_seed(3)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)


def test_run_name_records_the_hyperparameters_and_is_a_file_name():
    name = create_run_name(alg="DDPG", env="pendulum", num_layers=2, hidden_dim=64, eps_start=0.4, eps_end=0.05,
                           decay=0.35 / 40, gamma=0.98, batch_size=64, lr=1e-3, num_ep=60, num_step=200,
                           updt_freq=1)
    assert name.startswith("DDPG_pendulum_l2_h64_eps0.4-0.05")
    for piece in ("g0.98", "b64", "lr0.001", "ep60", "st200", "uf1"):
        assert piece in name
    assert "/" not in name and " " not in name and "sw" not in name


def test_moving_average_is_defined_for_any_length():
    assert moving_average([], 10).size == 0
    assert np.allclose(moving_average([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    assert np.allclose(moving_average([5.0], 10), [5.0])


@pytest.mark.parametrize("episodes, updates", [(0, 0), (1, 0), (5, 0), (9, 40), (150, 5000)])
def test_visualize_result_any_length(episodes, updates):
    returns = list(np.linspace(-1500, -150, episodes))
    td = list(np.random.rand(updates))
    fig = visualize_result(returns, td, list(-np.random.rand(updates)))
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3
    titles = [ax.get_title() for ax in fig.axes]
    assert "Return" in titles[0] and "TD" in titles[1] and "Policy" in titles[2]
    if episodes >= 20:
        assert len(fig.axes[0].lines) == 2, "a smoothed curve must be drawn over the returns"
    plt.close(fig)


def test_visualize_result_without_policy_losses():
    fig = visualize_result([-1000.0, -900.0], [])
    assert len(fig.axes) == 2
    assert fig._suptitle is None, "no title was asked for"
    plt.close(fig)


def test_visualize_result_titles_the_figure_with_its_settings():
    fig = visualize_result([-1000.0, -900.0], [0.5], title="DDPG_Pendulum-v1_lr0.001 (seed 3)")
    assert fig._suptitle is not None and fig._suptitle.get_text() == "DDPG_Pendulum-v1_lr0.001 (seed 3)"
    plt.close(fig)


def test_run_name_holds_polyak_and_a_non_default_noise():
    common = dict(alg="DDPG", env="MountainCarContinuous-v0", num_layers=2, hidden_dim=64, eps_start=0.4,
                  eps_end=0.05, decay=0.01, gamma=0.98, batch_size=64, lr=1e-3, num_ep=80, num_step=999, updt_freq=1)
    assert create_run_name(**common, polyak=0.0, noise="ou").endswith("_uf1_rho0_ou")
    assert create_run_name(**common, polyak=0.995, noise="gaussian").endswith("_uf1_rho0.995")


def test_each_saved_figure_gets_its_own_file(tmp_path):
    from workshop_lib.utils import save_figure, saved_figures

    assert saved_figures(tmp_path / "none") == []
    paths = []
    for _ in range(3):
        fig = visualize_result([-1000.0, -900.0], [0.5])
        paths.append(save_figure(fig, tmp_path / "figs", "DDPG_run"))
        plt.close(fig)
    assert [p.name for p in paths] == ["DDPG_run_001.png", "DDPG_run_002.png", "DDPG_run_003.png"]
    assert set(saved_figures(tmp_path / "figs")) == set(paths) and all(p.stat().st_size > 1000 for p in paths)
