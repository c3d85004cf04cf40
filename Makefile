# ebb - top-level convenience targets around CMake and ctest.
#
# The real build is CMakeLists.txt; this file only strings the usual steps
# together.  On a bare Debian machine (no make yet) use ./run TARGET, which
# installs the Debian packages first and then calls this file.

BUILD_DIR  ?= build
ASAN_DIR   ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_FLAGS = --output-on-failure -j2 --no-tests=error

MAKEFLAGS  += --no-print-directory

.DEFAULT_GOAL := build
.PHONY: all deps build test test-asan demo demo-sim bench bench-agent fuzz faults clean

all: build

deps:
	sh scripts/install-deps.sh

build: deps
	@if [ ! -f $(BUILD_DIR)/CMakeCache.txt ]; then \
		echo "cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)"; \
		cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE); \
	fi
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	ctest --test-dir $(BUILD_DIR) $(CTEST_FLAGS)

test-asan: deps
	@if [ ! -f $(ASAN_DIR)/CMakeCache.txt ]; then \
		echo "cmake -S . -B $(ASAN_DIR) -DEBB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug"; \
		cmake -S . -B $(ASAN_DIR) -DEBB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug; \
	fi
	cmake --build $(ASAN_DIR) -j$(JOBS)
	ctest --test-dir $(ASAN_DIR) $(CTEST_FLAGS)

# The demo is the fleet in a box (examples/fleet-box.sh: libvirt hosts in
# network namespaces, live migrations, hosts powered down and up; needs
# root); where it cannot run it says why and the simulator demo runs.
demo: build
	@sh examples/fleet-box.sh $(BUILD_DIR); rc=$$?; \
	if [ $$rc -eq 77 ]; then \
		echo "demo: running the simulator demo instead"; \
		sh examples/demo.sh $(BUILD_DIR); \
	else \
		exit $$rc; \
	fi

demo-sim: build
	sh examples/demo.sh $(BUILD_DIR)

fuzz: deps
	sh tests/fuzz/run-fuzz.sh

bench-agent: build
	sh tests/bench/bench-agent.sh $(BUILD_DIR)

bench: build
	@if [ -f tests/bench/run.sh ]; then \
		echo "sh tests/bench/run.sh $(BUILD_DIR)"; \
		sh tests/bench/run.sh $(BUILD_DIR); \
	else \
		echo "bench: there is no benchmark yet (tests/bench/run.sh does not exist)"; \
	fi

# Random fault trials on libvirt hosts (tests/libvirt/faults-campaign.sh;
# root): TRIALS=N (default 20) and SEED=S pass through the environment.
# Minutes per ten trials, hence not part of ctest.
faults: build
	sh tests/libvirt/faults-campaign.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) build-fuzz
