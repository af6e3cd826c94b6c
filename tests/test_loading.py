"""load_class: one loader of "module:Class" for the main job, compare() and the grader, with errors that teach."""

from __future__ import annotations

import sys

import pytest

from solutions.ddpg_agent import DDPGAgent
from workshop_lib.loading import load_class


def test_a_class_is_loaded_by_its_module_and_name():
    assert load_class("solutions.ddpg_agent:DDPGAgent") is DDPGAgent


def test_nothing_is_added_to_sys_path():
    before = list(sys.path)
    load_class("solutions.ddpg_agent:DDPGAgent")
    with pytest.raises(ModuleNotFoundError):
        load_class("no_such_module_of_this_workbook:Agent")
    assert sys.path == before


@pytest.mark.parametrize(("spec", "error", "match"), [
    ("solutions.ddpg_agent", ValueError, "expected 'module:Class'.*got 'solutions.ddpg_agent'.*Fix"),
    (":DDPGAgent", ValueError, "expected 'module:Class'"),
    (DDPGAgent, TypeError, "expected a class name as a string 'module:Class'.*got type"),
    ("no_such_module_of_this_workbook:Agent", ModuleNotFoundError, "no module of that name on sys.path.*Fix"),
    ("solutions.ddpg_agent:DDPGAgnet", AttributeError, "expected a class 'DDPGAgnet'.*Fix: check the spelling"),
    ("solutions.ddpg_agent:torch", ValueError, "to name a class; got module"),
])
def test_errors_say_what_was_expected_what_came_and_the_fix(spec, error, match):
    with pytest.raises(error, match=match):
        load_class(spec)
