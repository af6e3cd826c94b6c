"""The visible checks name each mistake of issue 10: one test per mistake, on the catalog's submissions.

Each test builds the notebook's ``DDPGAgent`` as a catalog variant writes it (in-process, as jdc would) and asserts
that the check of the part it gets wrong fails with a message that names the concept, and points to a hint.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests import grading_catalog as gc
from tests.test_autograder import MASTER, STUDENT
from workshop_lib import checks
from workshop_lib.grading import fixtures

VARIANTS = {v.name: v for v in gc.CATALOG}


def _agent(name: str) -> type:
    return gc.agent_class(STUDENT, MASTER, VARIANTS[name])


def _message(check, name: str, error: type[BaseException] = AssertionError) -> str:
    with pytest.raises(error) as info:
        check(_agent(name))
    return str(info.value)


def test_mu_target_of_the_states_names_the_next_state():
    message = _message(checks.check_critic_target, "bad_mu_target_on_states")
    assert "NEXT state" in message and "μ̂(s')" in message and "Hint 2.3" in message


def test_sampling_twice_for_the_target_names_sampling_not_the_done_mask():
    message = _message(checks.check_critic_target, "bad_sample_twice")
    assert "sample once per update" in message and "step 2b" in message and "Hint 2.1" in message
    assert "(1 - dones)" not in message
    checks.check_critic_prediction(_agent("bad_sample_twice"))  # the prediction is fine
    checks.check_policy_step(_agent("bad_sample_twice"))  # and so is the policy loss


def test_sampling_twice_for_the_policy_loss_is_named_in_the_policy_check():
    message = _message(checks.check_policy_step, "bad_policy_sample_twice")
    assert "sample once per update" in message and "step 3" in message and "Hint 2.1" in message
    checks.check_critic_target(_agent("bad_policy_sample_twice"))


def test_target_critic_in_the_policy_loss_names_the_live_critic_not_the_sign():
    message = _message(checks.check_policy_step, "bad_policy_q_target")
    assert "LIVE critic q_current" in message and "q_target" in message and "Hint 2.5" in message
    assert "negative" not in message and "descent" not in message


def test_one_scalar_of_noise_for_all_dimensions_fails_on_a_2d_action():
    cls = _agent("bad_act_scalar_noise")
    agent = fixtures.make_check_agent(cls)  # on Pendulum's 1-D action the mistake does not show
    assert agent.select_action(np.zeros(fixtures.S, np.float32)).shape == (1,)
    message = _message(checks.check_select_action, "bad_act_scalar_noise")
    assert "2-dimensional action" in message and "independent per action dimension" in message
    assert "Hint 1.3" in message


def test_the_noise_check_runs_on_a_2d_action_problem():
    from solutions.ddpg_agent import DDPGAgent

    agent = fixtures.make_check_agent(DDPGAgent, action_size=2)
    assert agent.action_size == 2 and agent.rb.sample(4)[1].shape == (4, 2)
    assert agent.select_action(np.zeros(fixtures.S, np.float32)).shape == (2,)


def test_a_crash_in_the_target_is_labelled_step_2b_and_spares_the_prediction():
    checks.check_critic_prediction(_agent("bad_target_crashes"))
    for check in (checks.check_critic_target, checks.check_policy_step, checks.check_target_update):
        message = _message(check, "bad_target_crashes")
        assert "AttributeError in step 2b" in message and "q_targt" in message, message
        assert "policy loss)" not in message and "critic step" not in message


def test_a_crash_in_the_prediction_is_labelled_step_2a():
    for check in (checks.check_critic_prediction, checks.check_critic_target, checks.check_policy_step):
        message = _message(check, "bad_prediction_crashes")
        assert "RuntimeError in step 2a" in message and "Hint 2.2" in message, message


def test_the_exercise_1_stub_says_what_to_write():
    message = _message(checks.check_select_action, "trap_unmodified", NotImplementedError)
    assert "Exercise 1" in message and "replace" in message and "noise" in message and "Hints 1.1 to 1.4" in message


def test_the_exercise_2_stub_names_its_first_step():
    message = _message(checks.check_critic_prediction, "trap_unmodified", NotImplementedError)
    assert "step 1 (sampling the mini-batch)" in message and "Exercise 2" in message


def test_a_second_critic_step_is_named():
    message = _message(checks.check_critic_target, "bad_critic_steps_twice")
    assert "q_optimizer.step() ran 2 times" in message and "exactly one step" in message and "Hint 2.6" in message


def test_a_second_actor_step_is_named():
    message = _message(checks.check_policy_step, "bad_actor_steps_twice")
    assert "mu_optimizer.step() ran 2 times" in message and "exactly one step" in message and "Hint 2.6" in message


def test_every_hint_a_check_names_exists_in_the_notebook():
    import re

    text = MASTER.read_text()
    source = checks.__file__
    named = set(re.findall(r"Hint (\d\.\d)", open(source).read()))
    for hint in named:
        assert f"Hint {hint}</b>" in text, f"checks.py names Hint {hint}, which the notebook does not have"


def test_default_transitions_are_unchanged():
    """The hidden tests draw their fixtures from make_transitions(seed): the default must not move."""
    data = fixtures.make_transitions(3)
    assert data["act"].shape == (48, 1)
    theta = np.arctan2(data["obs"][:, 1], data["obs"][:, 0])
    expected = -(theta ** 2 + 0.1 * data["obs"][:, 2] ** 2 + 0.001 * data["act"][:, 0] ** 2)
    assert np.allclose(data["rew"], expected, atol=1e-4)
    assert fixtures.make_transitions(3, action_size=2)["act"].shape == (48, 2)


# ------------------------------------------- the held-out mistakes of "the verdict catches every mistake"
def test_noise_in_the_policy_loss_is_named_as_noise_not_as_the_critic():
    message = _message(checks.check_policy_step, "bad_policy_noisy_actions")
    assert "self.epsilon changed" in message and "without noise" in message and "Hint 2.5" in message
    assert "LIVE critic" not in message and "negative" not in message
    checks.check_critic_target(_agent("bad_policy_noisy_actions"))  # the critic's steps are fine


@pytest.mark.parametrize("name, ask", [("bad_target_action_noise", "two runs of backward()"),
                                       ("bad_target_action_epsilon_noise", "self.epsilon changed")])
def test_noise_in_the_target_is_named_as_noise_not_as_bootstrapping_from_s(name, ask):
    message = _message(checks.check_critic_target, name)
    assert ask in message and "noise" in message and "Hint 2.3" in message
    assert "NEXT state" not in message and "changed when only the batch's states" not in message
    checks.check_critic_prediction(_agent(name))
    checks.check_policy_step(_agent(name))


def test_gradients_left_over_from_the_previous_update_are_named_per_network():
    actor = _message(checks.check_policy_step, "bad_actor_zero_grad_wrong_optimizer")
    assert "second of two updates" in actor and "actor's gradients were not cleared" in actor
    assert "mu_optimizer" in actor and "Hint 2.6" in actor
    checks.check_critic_target(_agent("bad_actor_zero_grad_wrong_optimizer"))
    critic = _message(checks.check_critic_target, "bad_critic_zero_grad_wrong_optimizer")
    assert "second of two updates" in critic and "critic's gradients were not cleared" in critic
    assert "q_optimizer" in critic and "Hint 2.6" in critic
    checks.check_policy_step(_agent("bad_critic_zero_grad_wrong_optimizer"))


def test_a_critic_left_frozen_is_named():
    message = _message(checks.check_policy_step, "bad_critic_left_frozen")
    assert "q_current is still frozen" in message and "requires_grad = False" in message and "Hint 2.6" in message
    checks.check_critic_target(_agent("bad_critic_left_frozen"))  # one update on a fresh agent is right


def test_a_hard_target_copy_is_named():
    message = _message(checks.check_target_update, "bad_hard_target_copy")
    assert "copy of q_current" in message and "hard update" in message and "polyak" in message
    assert "Hint 2.6" in message


@pytest.mark.parametrize("name, cause, hint", [
    ("bad_gamma_twice", "discount is applied twice", "Hint 2.3"),
    ("bad_dones_minus_one", "wrong sign", "Hint 2.4"),
    ("bad_max_over_batch", "OTHER transitions", "Hint 2.3"),
    ("bad_summed_critic_loss", "16.0 times", "Hint 2.6"),
])
def test_wrong_targets_and_critic_losses_that_passed_every_check_are_named(name, cause, hint):
    message = _message(checks.check_critic_target, name)
    assert cause in message and hint in message, message
    checks.check_critic_prediction(_agent(name))
    checks.check_policy_step(_agent(name))


def test_a_summed_critic_loss_is_named_as_a_sum():
    message = _message(checks.check_critic_target, "bad_summed_critic_loss")
    assert "adds the squared errors up instead of averaging" in message and "batch size" in message


def test_a_state_normalised_in_place_is_named_as_in_place_not_as_epsilon():
    message = _message(checks.check_select_action, "bad_state_normalised_in_place")
    assert "in place" in message and "replay memory" in message and "Hint 1.2" in message
    assert "epsilon = 0" not in message and "ε = 0" not in message


@pytest.mark.parametrize("name", ["ok_zero_grad_set_to_none_false_manual_mse", "ok_own_soft_update_target_detach"])
def test_given_code_written_differently_passes_every_check(name):
    cls = _agent(name)
    for check in (checks.check_select_action, checks.check_critic_prediction, checks.check_critic_target,
                  checks.check_policy_step, checks.check_target_update):
        check(cls)


def test_a_recording_optimizer_with_a_step_size_takes_a_plain_gradient_step():
    import torch

    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    p.grad = torch.tensor([0.5, 0.25])
    still, moving = fixtures.RecordingOptimizer([p]), fixtures.RecordingOptimizer([p], lr=0.1)
    still.step()
    assert torch.equal(p.detach(), torch.tensor([1.0, -2.0]))
    moving.step()
    assert torch.allclose(p.detach(), torch.tensor([0.95, -2.025]))
    assert torch.equal(moving.recorded[0][0], torch.tensor([0.5, 0.25]))
