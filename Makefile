# Slimage: `make run` starts the product, `make test` runs every check. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

# Build outside the clone when possible, so fresh clones on the same machine reuse the build.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/slimage/target
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: run test bench bench-jobs bootstrap fmt-check lint unit-tests fuzz e2e build-release build-debug

## Start Slimage on http://127.0.0.1:3000 (SQLite in ./data); environment variables override.
run: bootstrap build-release
	exec "$(CARGO_TARGET_DIR)/release/server"

## Every check: formatting, lints, unit + integration tests on SQLite and PostgreSQL, end-to-end.
test: bootstrap fmt-check lint unit-tests fuzz e2e

## Engine against pngquant + oxipng and mozjpeg on ../shared/corpus (about half an hour);
## `make bench FORMAT=auto` lets the engine pick the smallest of PNG, JPEG, WebP and AVIF.
FORMAT ?= same
bench:
	scripts/bootstrap.sh --bench
	cargo bench --locked -p engine --bench corpus -- --format=$(FORMAT)

## Drop to finished for 1, 10 and 100 corpus images through the real server, and its peak memory.
bench-jobs: bootstrap build-release
	scripts/bench-jobs.py "$(CARGO_TARGET_DIR)/release/server"

bootstrap:
	scripts/bootstrap.sh

build-release:
	cargo leptos build --release

build-debug:
	cargo leptos build

fmt-check:
	cargo fmt --all -- --check

lint:
	cargo clippy --locked -p engine -p server --all-targets -- -D warnings
	cargo clippy --locked -p app --features ssr --all-targets -- -D warnings
	cargo clippy --locked -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

unit-tests:
	scripts/with-postgres.sh cargo test --locked -p engine -p app -p server --features app/ssr

## The engine's fuzz target for 60 seconds (longer by hand: scripts/fuzz.sh 3600).
fuzz:
	scripts/fuzz.sh 60

e2e: build-debug
	cargo build --locked -p server --example fake_stripe
	cd end2end && playwright test
