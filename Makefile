# dyn53 make targets. Each target installs what it needs (.ci/setup) on a fresh machine.
# Output formats of size and bench are a contract: SIZE <triple> <bytes>, BENCH <name> <value> <unit>.

SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup check test demo router size ipk apk feed lambda bench fuzz clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 10

setup: ## install toolchains and tools this repo needs (idempotent)
	@.ci/setup

check: ## quick loop: format, clippy and unit tests, no emulators
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cargo test --workspace --locked --lib

test: setup ## every check: unit, integration on moto, router binaries under qemu, shellcheck, lint
	@.ci/test

demo: setup ## the whole flow on this machine, narrated
	@.ci/demo

router: setup ## static client binaries for every router target under dist/
	@.ci/build-router

size: router ## SIZE <rust-target-triple> <bytes> for each router binary
	@.ci/size

ipk: router ## OpenWrt and Entware .ipk packages under dist/
	@.ci/build-ipk

apk: router ## OpenWrt 25.12+ .apk packages under dist/apk/<arch>/ (DYN53_APK_KEY=pem signs)
	@.ci/build-apk

feed: router ## signed apk and opkg feeds under dist/feed/ (needs DYN53_APK_KEY, DYN53_USIGN_KEY)
	@.ci/build-feed

lambda: setup ## the arm64 Lambda bundle under dist/
	@.ci/build-lambda

bench: setup ## BENCH <name> <value> <unit> lines, then a comparison table
	@.ci/bench

fuzz: ## run each fuzz target for DYN53_FUZZ_SECONDS (default 60) from the seed corpus
	@.ci/fuzz

clean: ## remove build output
	cargo clean
	rm -rf dist
