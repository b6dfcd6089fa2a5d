# The two commands of the README: `make demo` and `make test`. Each installs
# what is missing first (scripts/install-deps.sh), so both work on a fresh
# Debian machine that has only Swift.
SHELL := /bin/bash

.PHONY: deps build test demo bench bench-scale bench-peers torture install uninstall clean

deps:
	@scripts/install-deps.sh

build: deps
	swift build -c release --product casevault

# The schema check (Python jsonschema: every schema valid against the 2020-12
# meta-schema, every example valid, derived invalid variants refused) runs
# first, so swift test's own summary stays the last lines.
# CASEVAULT_REQUIRE_DECODER: deps installed PyNaCl, so the independent
# decoder's tests must run here, not be skipped.
# A short crash torture (scripts/crash-torture.py) prints its totals before
# the tests; `make torture` runs the full 200 iterations.
test: deps
	python3 Schemas/check_schemas.py
	swift build --product casevault
	python3 scripts/crash-torture.py "$$(swift build --show-bin-path)/casevault" --iterations $(CI_TORTURE_ITERATIONS)
	CASEVAULT_REQUIRE_DECODER=1 swift test

CI_TORTURE_ITERATIONS ?= 8
ITERATIONS ?= 200

# Kill filings, rotations and disposals at random moments; nothing acknowledged may be lost.
torture: build
	python3 scripts/crash-torture.py "$$(swift build -c release --show-bin-path)/casevault" --iterations $(ITERATIONS)

demo: build
	scripts/demo.sh "$$(swift build -c release --show-bin-path)/casevault"

# Throughput of file and get against raw secretstream, and peak memory.
bench: build
	swift build -c release --product casevault-bench
	"$$(swift build -c release --show-bin-path)/casevault-bench" "$$(swift build -c release --show-bin-path)/casevault"

# A vault of 100,000 cases and 1,000,000 versions, seeded through the bulk
# filing path, and the daily lookups timed on it and on one a hundredth of
# its size (about an hour on a 2-core machine; CASEVAULT_BENCH_SEED_CASES=N for a smaller run).
bench-scale: build
	swift build -c release --product casevault-bench
	CASEVAULT_BENCH_ONLY=versions "$$(swift build -c release --show-bin-path)/casevault-bench" "$$(swift build -c release --show-bin-path)/casevault"

# casevault beside age, restic and bsdtar on the same inputs (hyperfine
# medians); writes bench/RESULTS.md. Installs the peers from Debian if missing.
bench-peers: build
	swift build -c release --product casevault-bench
	scripts/bench-peers.sh "$$(swift build -c release --show-bin-path)/casevault"

# Installs the binary, shell completions (bash, zsh, fish: case numbers,
# document names and staff ids complete from the vault in $CASEVAULT_DIR or
# --vault) and the man pages generated from the command definitions
# (swift-argument-parser's generate-manual plugin). PREFIX and DESTDIR as usual:
#   make install PREFIX=$HOME/.local     sudo make install     make install DESTDIR=pkg
PREFIX ?= /usr/local
DESTDIR ?=
BIN := $(DESTDIR)$(PREFIX)/bin
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
install: build
	install -d "$(BIN)" "$(MANDIR)" "$(DESTDIR)$(PREFIX)/share/bash-completion/completions" \
		"$(DESTDIR)$(PREFIX)/share/zsh/site-functions" "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d"
	install -m 0755 "$$(swift build -c release --show-bin-path)/casevault" "$(BIN)/casevault"
	"$(BIN)/casevault" --generate-completion-script bash > "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/casevault"
	"$(BIN)/casevault" --generate-completion-script zsh > "$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_casevault"
	"$(BIN)/casevault" --generate-completion-script fish > "$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/casevault.fish"
	scripts/make-man-pages.sh "$(BIN)/casevault" "$(MANDIR)"
	@echo "Installed casevault, its completions and man pages under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f "$(BIN)/casevault" "$(DESTDIR)$(PREFIX)/share/bash-completion/completions/casevault" \
		"$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_casevault" \
		"$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/casevault.fish" "$(MANDIR)"/casevault*.1

clean:
	rm -rf .build demo-vault demo-checkpoints demo-labels.svg
