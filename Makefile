# statgen: make setup | demo | test | test-fast | shards | bench | bench-trajectory | bench-looks | bench-levers | bench-robots | probe | probe-gap | probe-budget | probe-views
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
N      ?= 500000
OUT    ?= data/franka
DEMO_N ?= 200

# Robot models: where the Menagerie cannot be downloaded (no route to GitHub) and a
# Menagerie-layout copy sits in ../shared/assets/menagerie, use it.
SHARED_MENAGERIE := $(abspath ../shared/assets/menagerie)
ifeq ($(origin MENAGERIE_ROOT),undefined)
ifneq ($(wildcard $(SHARED_MENAGERIE)/franka_emika_panda),)
export MENAGERIE_ROOT := $(SHARED_MENAGERIE)
endif
endif
export MUJOCO_GL ?= egl

.PHONY: setup demo test test-fast shards bench bench-trajectory bench-looks bench-levers bench-robots probe probe-gap probe-budget probe-views probe-setup clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# The main job at a small n: generate, verify, preview.
demo: setup
	rm -rf data/demo
	$(BIN)/statgen generate --robot franka --n $(DEMO_N) --shard-size 100 --out data/demo
	$(BIN)/statgen verify data/demo
	$(BIN)/statgen preview data/demo --out data/demo/preview.png
	@echo "demo dataset: data/demo  (contact sheet: data/demo/preview.png)"

# Two pytest processes (pytest-xdist): most tests wait on Ray, a subprocess or a renderer, so one
# process used 0.8 of the 2 cores on average (18 min); two take about 9. Each process starts its own shared
# Ray cluster and session datasets. TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal

# The suite without the tests that start Ray or a `statgen generate` subprocess (marked slow):
# 1-2 minutes, for the edit-test loop. CI runs `make test`.
test-fast: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not slow"

# The default recipe (pipelines/franka_tabletop.toml) into ./data; N=... overrides the count.
# A stopped run continues where it left off.
shards: setup
	$(BIN)/statgen generate --pipeline franka_tabletop --n $(N) --out $(OUT) $(if $(wildcard $(OUT)/_run/run.json),--resume)

bench: setup
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/looks.py
	$(BIN)/python bench/trajectory.py

# Trajectory mode against independent mode in one run, and what planning an episode costs (about 4 minutes).
bench-trajectory: setup
	$(BIN)/python bench/trajectory.py

# What randomisation costs: --randomize none against full in one run, shadows, a texture upload (about 3 minutes).
bench-looks: setup
	$(BIN)/python bench/looks.py

# What each performance lever is worth, measured in one run (about 2 minutes).
bench-levers: setup
	$(BIN)/python bench/levers.py

# The ten robots: visual faces before/after decimation, frames/s vs the Panda, mask IoU (about 15 minutes).
bench-robots: setup
	$(BIN)/python bench/robots.py

# The learnability probe (bench/probe.py): the README's probe table, measured on this
# machine. Generates PROBE_N franka samples with the front and wrist cameras (once; a
# stopped run resumes), trains one probe per row, and prints the table. Needs the
# 'probe' extra (JAX, optax), which this target installs.
PROBE_N    ?= 50000
PROBE_DATA ?= data/probe/franka-none
PROBE_OUT  ?= data/probe/results
probe-setup: setup
	$(BIN)/pip install -q -e ".[probe]"

probe: probe-setup
	test -f $(PROBE_DATA)/dataset.json || nice -n 15 $(BIN)/statgen generate --robot franka --n $(PROBE_N) \
		--cameras front,wrist --out $(PROBE_DATA) $(if $(wildcard $(PROBE_DATA)/_run/run.json),--resume)
	mkdir -p $(PROBE_OUT)
	nice -n 15 $(BIN)/python bench/probe.py $(PROBE_DATA) --camera front --n 30000 --n-test 2500 --size 112 \
		--epochs 6 --tcp-crop 32 --tcp-jitter 8 --eval-every 1 > $(PROBE_OUT)/none-front-112.json
	nice -n 15 $(BIN)/python bench/probe.py $(PROBE_DATA) --camera front --n 8000 --n-test 2500 --size 64 \
		--epochs 3 --tcp-crop 32 > $(PROBE_OUT)/none-front-64-patch.json
	nice -n 15 $(BIN)/python bench/probe.py $(PROBE_DATA) --camera wrist --n 10000 --n-test 2500 --size 64 \
		--epochs 5 --eval-every 1 > $(PROBE_OUT)/none-wrist-64.json
	$(BIN)/python bench/probe_table.py $(PROBE_OUT)/none-front-112.json $(PROBE_OUT)/none-front-64-patch.json \
		$(PROBE_OUT)/none-wrist-64.json

# The domain-gap table (bench/probe_gap.py): franka and gen3, trained on none and on full, tested on
# none, on full of another seed and on a held-out look, front and wrist cameras. Datasets that exist
# are reused, and so are saved results (delete data/gap/results to train again).
probe-gap: probe-setup
	nice -n 5 $(BIN)/python bench/probe_gap.py --out data/gap

# The position goal's budget (issue 14): one probe on 50,000 franka samples at full, the keypoint
# network, 11 epochs, tested like the gap table (about 50 minutes here: 6 of data, 44 of training).
probe-budget: probe-setup
	nice -n 5 $(BIN)/python bench/probe_gap.py --out data/gap-budget --robots franka --levels full --cameras front \
		--n-train 50000 --epochs 11 --arch keypoints

# Two calibrated views (bench/probe_views.py): franka at full with the task's front and left cameras
# (30,000 training samples, seed 0; 1,500 test samples, seed 1), one keypoint probe per camera: the
# first network on the first 10,000 for 8 epochs, then --refine 64,32 (a 64 px window, then a 32 px
# one) trained on all 30,000 for 7 and 16 epochs, and --normalise all (each image and window at its
# own contrast); the TCP triangulated from the two pixels (about 44 minutes here: 3 of data, 38 of
# training).
VIEWS_DATA ?= data/views
probe-views: probe-setup
	for set in "franka-full-30k 30000 0" "franka-full-s1 1500 1"; do set -- $$set; \
		test -f $(VIEWS_DATA)/$$1/dataset.json || nice -n 5 $(BIN)/statgen generate --robot franka --n $$2 --seed $$3 \
			--randomize full --cameras front,left --quiet --out $(VIEWS_DATA)/$$1 \
			$$(test -f $(VIEWS_DATA)/$$1/_run/run.json && echo --resume) || exit 1; done
	nice -n 5 $(BIN)/python bench/probe_views.py $(VIEWS_DATA)/franka-full-30k --test $(VIEWS_DATA)/franka-full-s1 \
		--n-test 1500 --arch keypoints --size 64 --epochs 8 --n 10000 --refine 64,32 --refine-n 30000 --refine-epochs 7,16 \
		--normalise all > $(VIEWS_DATA)/result.json
	cat $(VIEWS_DATA)/result.json

clean:
	rm -rf data/demo dist build
