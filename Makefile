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

.PHONY: install demo test bench clean release grade feedback export notebooks hub-install hub hub-stop

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
	$(BIN)/python -m benchmarks.bench_pregrade

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

# ---- The course's JupyterHub (docs/hub.md; configuration: autograder/hub/jupyterhub_config.py) ------------------
# Its own environment, which every Unix user of the hub must be able to run: made from a Python every user can
# execute (HUB_PYTHON; not one under /root), with workshop_lib installed into it (not editable: students need
# nothing from this repository). autograder/hub/everyone/ goes into its etc/jupyter (every user's nbgrader and
# Lab settings). The proxy, configurable-http-proxy, is pinned in autograder/hub/package.json and package-lock.json
# and installed by npm into autograder/hub/node_modules/.
HUB_PYTHON ?= /usr/bin/python3
HUB_VENV   ?= .hub-venv
HUB_STAMP  := $(HUB_VENV)/.installed-stamp
HUB_PROXY  := autograder/hub/node_modules/.bin/configurable-http-proxy
# The hub's own files (database, cookie secret, pid, log): see autograder/hub/settings.py for every DDPG_* setting.
DDPG_HUB_STATE ?= /srv/ddpg-hub

$(HUB_STAMP): pyproject.toml $(wildcard workshop_lib/*.py workshop_lib/*/*.py autograder/*.py autograder/hub/*.py) \
		$(wildcard autograder/hub/everyone/* autograder/hub/everyone/*/*)
	test -x $(HUB_VENV)/bin/python || $(HUB_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/pip install --quiet $(TORCH_PIN) $(TORCH_INDEX)
	$(HUB_VENV)/bin/pip install --quiet ".[notebook,grading,hub]"
	rm -rf build
	mkdir -p $(HUB_VENV)/etc/jupyter
	cp -r autograder/hub/everyone/. $(HUB_VENV)/etc/jupyter/
	chmod -R a+rX $(HUB_VENV)
	touch $@

$(HUB_PROXY): autograder/hub/package.json autograder/hub/package-lock.json
	cd autograder/hub && npm ci --no-audit --no-fund
	touch $@

hub-install: $(HUB_STAMP) $(HUB_PROXY)

# Start the hub in the foreground (as root: it starts each user's server as that user), on 127.0.0.1:8000 unless
# DDPG_HUB_IP/DDPG_HUB_PORT say otherwise. Ctrl-C (or `make hub-stop` from another shell) stops it and every
# user's server. Users: `python -m autograder.hub.users add-instructor NAME`, `... add-student NAME ...`.
hub: hub-install
	$(HUB_VENV)/bin/python -m autograder.hub.users setup
	mkdir -p -m 700 $(DDPG_HUB_STATE)
	cd $(DDPG_HUB_STATE) && DDPG_HUB_STATE=$(DDPG_HUB_STATE) $(abspath $(HUB_VENV))/bin/jupyterhub \
		-f $(CURDIR)/autograder/hub/jupyterhub_config.py

hub-stop:
	test -f $(DDPG_HUB_STATE)/jupyterhub.pid && kill $$(cat $(DDPG_HUB_STATE)/jupyterhub.pid) || echo "no hub running"
