"""The verdict in-process, in seconds: the probe runs here on a catalog variant's class (no sandbox, no nbgrader)
and ``autograder.verdict.decide`` compares it with the reference. The same variants are graded through the real
path (sandbox, nbgrader) by tests/test_autograder.py's catalog tests; these pin the decision down fast.
"""

from __future__ import annotations

import json

import pytest

from autograder import parts, verdict
from tests import grading_catalog as gc
from tests.test_autograder import MASTER, STUDENT
from workshop_lib.grading import probe

VARIANTS = {v.name: v for v in gc.CATALOG}
HELD_OUT = ["bad_policy_noisy_actions", "bad_actor_zero_grad_wrong_optimizer", "bad_critic_zero_grad_wrong_optimizer",
            "bad_critic_left_frozen", "bad_hard_target_copy", "bad_gamma_twice", "bad_dones_minus_one",
            "bad_max_over_batch", "bad_summed_critic_loss", "bad_target_action_noise",
            "bad_target_action_epsilon_noise", "bad_state_normalised_in_place", "bad_critic_steps_twice"]
CORRECT = ["ok_reference", "ok_zero_grad_set_to_none_false_manual_mse", "ok_own_soft_update_target_detach",
           "ok_two_argument_qnet_neg", "ok_batched_torch_noise_with_warnings"]
SEED = 20261207


@pytest.fixture(scope="module")
def fixtures():
    from solutions.ddpg_agent import DDPGAgent

    return probe.make_fixtures(DDPGAgent, SEED)


@pytest.fixture(scope="module")
def reference_records(fixtures):
    from solutions.ddpg_agent import DDPGAgent

    records: list = []
    probe.run_probes(DDPGAgent, fixtures, records.append, visible=False)
    return records


_CACHE: dict[str, str] = {}


def _records(name: str, fixtures) -> list:
    """The probe's records of the variant ``name`` (a fresh copy each call; probed once per module)."""
    if name not in _CACHE:
        records: list = []
        probe.run_probes(gc.agent_class(STUDENT, MASTER, VARIANTS[name]), fixtures, records.append, visible=False)
        _CACHE[name] = json.dumps(records)  # what crosses the sandbox's channel
    return json.loads(_CACHE[name])


def _scores(records: list, reference_records: list) -> dict[str, float]:
    return {v.part.grade_id: v.score for v in verdict.decide(records, reference_records, run_reason=None)}


def test_every_quantity_belongs_to_exactly_one_part_and_has_a_judge():
    owned = [q for part in parts.PARTS for q in part.quantities]
    assert sorted(owned) == sorted(parts.QUANTITIES), "each quantity of parts.QUANTITIES belongs to one part"
    assert set(verdict.JUDGES) | {"select_action"} == set(parts.QUANTITIES)
    assert "target_networks" in parts.BY_ID["test_policy_loss"].quantities
    assert parts.TOTAL == 10 and [p.grade_id for p in parts.PARTS] == list(gc.POINTS)


@pytest.mark.parametrize("name", HELD_OUT + CORRECT)
def test_each_mistake_costs_its_own_part_and_correct_variants_keep_full_marks(name, fixtures, reference_records):
    assert _scores(_records(name, fixtures), reference_records) == VARIANTS[name].expected


@pytest.mark.parametrize("name, part", [("bad_actor_zero_grad_wrong_optimizer", "test_policy_loss"),
                                        ("bad_critic_zero_grad_wrong_optimizer", "test_critic_target"),
                                        ("bad_critic_left_frozen", "test_policy_loss"),
                                        ("bad_hard_target_copy", "test_policy_loss")])
def test_mistakes_that_one_update_without_the_weights_after_it_misses(name, part, fixtures, reference_records):
    """With the records of one update only (what the grader compared before: no updates in a row, no weights or
    flags after the update) these mistakes score full marks; with them, the part they belong to fails."""
    records = _records(name, fixtures)
    old = [json.loads(json.dumps(r)) for r in reference_records + records]
    for r in old:
        if r.get("probe") == "backward":
            r["values"] = {k: v for k, v in r["values"].items() if k not in ("updates", "requires_grad", "params")}
    assert _scores(old[len(reference_records):], old[:len(reference_records)]) == gc.POINTS
    lost = {gid for gid, score in _scores(records, reference_records).items() if score < gc.POINTS[gid]}
    assert lost == {part}


def test_gradients_left_over_are_found_in_the_second_update(fixtures, reference_records):
    message = next(v.message for v in verdict.decide(_records("bad_actor_zero_grad_wrong_optimizer", fixtures),
                                                     reference_records) if v.part.grade_id == "test_policy_loss")
    assert "the actor's gradient differs" in message and "in update 2 of 3 in a row" in message, message


def test_the_hard_copy_is_graded_through_the_target_networks(fixtures, reference_records):
    message = next(v.message for v in verdict.decide(_records("bad_hard_target_copy", fixtures), reference_records)
                   if v.part.grade_id == "test_policy_loss")
    assert "target network q_target differs" in message and "polyak" in message


def test_backward_fixtures_make_the_listed_mistakes_visible_and_follow_the_seed(fixtures):
    from solutions.ddpg_agent import DDPGAgent

    assert probe.make_fixtures(DDPGAgent, SEED) == fixtures
    assert probe.make_fixtures(DDPGAgent, SEED + 1)["backward"] != fixtures["backward"]
    for case in fixtures["backward"]:
        assert case["updates"] >= 3 and case["epsilon"] != 0 and case["batch_size"] > 1
        assert 0 < case["gamma"] < 1
        agent = probe.build_agent(DDPGAgent, case)
        for _ in range(case["updates"]):
            dones = agent.rb.sample(agent.batch_size)[4]
            assert 0 < float(dones.sum()) < len(dones), "every mini-batch mixes terminal and other transitions"


def test_a_record_of_the_updates_in_a_row_holds_every_compared_value(reference_records):
    record = next(r for r in reference_records if r["probe"] == "backward")["values"]
    assert len(record["updates"]) == 3
    for update in [record, *record["updates"]]:
        assert set(update["params"]) == set(probe.NETS)
        assert all(update["requires_grad"][n] and all(update["requires_grad"][n]) for n in ("q_current", "mu_current"))
        assert update["qs_selected"]["shape"] == [16, 1] and len(update["critic_grads"]) == 1
    first, second = record["updates"][0], record["updates"][1]
    assert first["params"]["q_current"] != second["params"]["q_current"], "the updates in a row take real steps"
