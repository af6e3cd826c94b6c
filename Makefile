# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install the pinned dependencies, train the reference agent headless
#   make test   the same set-up, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: pip takes the local CPU wheel (an unpinned torch would pull GBs of CUDA).
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[notebook,grading,test,bench]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/python -m workshop_lib.train --json tmp_ddpg_learning/summary.json

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/bench_speed.py
	$(BIN)/python benchmarks/bench_solve.py
	$(BIN)/python benchmarks/bench_video.py
	$(BIN)/python -m benchmarks.bench_grading

clean:
	rm -rf tmp_ddpg_learning .pytest_cache

.PHONY: grade feedback export notebooks

# Autograde every submission in autograder/submitted/<student>/ddpg/, each in its own bubblewrap sandboxes, JOBS at
# a time (default: the machine's cores); fill autograder/gradebook.db and print the scores per student and per part
# (see "Instructor workflow" in README.md).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
grade: install
	$(BIN)/python -m autograder.grade --jobs $(JOBS)

# One feedback page per autograded student in autograder/feedback/<student>/ddpg/ (fit to hand out before the
# deadline: scores, the mistakes named, sanitized outputs, no grader code), and a CSV with one column per part.
feedback: install
	$(BIN)/python -m autograder.feedback

export: install
	$(BIN)/python -m autograder.export

# Regenerate notebooks/ (nbgrader generate_assignment) and the executed solutions/ notebook from the master
# autograder/source/ddpg/ddpg_pendulum.ipynb.
notebooks: install
	$(BIN)/python -m autograder.build_notebooks
