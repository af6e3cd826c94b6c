# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install the pinned dependencies, train the reference agent headless
#   make test   the same set-up, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# torch's pin (torch==X.Y.Z), read from the dependencies of pyproject.toml, the one place where versions are written.
TORCH_PIN := $(shell sed -n 's/^[[:space:]]*"\(torch==[^"]*\)",.*/\1/p' pyproject.toml)
ifeq ($(TORCH_PIN),)
$(error pyproject.toml's dependencies hold no "torch==..." line)
endif
# Where pip looks for torch. Empty: the configured indexes (the course machines hold a local CPU wheel of the pinned
# version). Elsewhere on Linux set TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" for the CPU
# build; without it the registry's build of the pin is the CUDA one (a venv of about 5.5 GB instead of 1.8 GB).
TORCH_INDEX ?=

.PHONY: install demo test bench clean release grade feedback export notebooks

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned (unpinned, pip would take the newest release with GBs of CUDA). Which build comes
	# depends on TORCH_INDEX above: a CPU one only where pip can find one.
	$(BIN)/pip install --quiet $(TORCH_PIN) $(TORCH_INDEX)
	$(BIN)/pip install --quiet -e ".[notebook,grading,test,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m workshop_lib.train --agent solutions.ddpg_agent:DDPGAgent --json tmp_ddpg_learning/summary.json

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m benchmarks.bench_speed
	$(BIN)/python -m benchmarks.bench_solve
	$(BIN)/python -m benchmarks.bench_video
	$(BIN)/python -m benchmarks.bench_grading
	$(BIN)/python -m benchmarks.bench_compare

clean:
	rm -rf tmp_ddpg_learning .pytest_cache

# The student release: nbgrader generate_assignment into autograder/course/release/ddpg/, plus a wheel of
# workshop_lib and a requirements.txt beside the notebook, and the whole folder zipped as
# autograder/course/release/ddpg.zip (see docs/instructors.md, "Making the release").
release: install
	$(BIN)/python -m autograder.make_release

# Autograde every submission in autograder/course/submitted/<student>/ddpg/, each in its own bubblewrap sandboxes, JOBS at
# a time (default: the machine's cores); fill autograder/course/gradebook.db and print the scores per student and per part
# (see docs/instructors.md, "Grading a class").
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
grade: install
	$(BIN)/python -m autograder.grade --jobs $(JOBS)

# One feedback page per autograded student in autograder/course/feedback/<student>/ddpg/ (fit to hand out before the
# deadline: scores, the mistakes named, sanitized outputs, no grader code), and a CSV with one column per part.
feedback: install
	$(BIN)/python -m autograder.feedback

export: install
	$(BIN)/python -m autograder.export

# Regenerate notebooks/ (nbgrader generate_assignment) and the executed solutions/ notebook from the master
# autograder/course/source/ddpg/ddpg_pendulum.ipynb. The release holds a copy of the video; notebooks/ links to the one
# committed file, resources/pendulum_env.mp4, instead.
notebooks: install
	$(BIN)/python -m autograder.build_notebooks
