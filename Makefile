# keyceremony: the two commands of the README, and their parts.
#
#   make demo   a rehearsal of the root-key ceremony in the terminal UI, on a
#               throwaway SoftHSM2 token, with the DEMO-ONLY participants
#   make test   everything CI checks: format, lints, tests
#
# Both install what they need (SoftHSM2, OpenSC, openssl, age, tmux) with
# apt-get when running as root, and otherwise print the exact command.

DEMO_STATE := .keyceremony/demo
DEMO_OUT   := $(DEMO_STATE)/out
PACKAGES   := softhsm2 opensc openssl age tmux openssh-client

.PHONY: demo demo-headless test deps build example

deps:
	@./.ci/deps $(PACKAGES)

build: deps
	cargo build --release

# The demo token is thrown away at the start of every demo: a rehearsal
# never reuses an earlier rehearsal's token.
demo: build
	rm -rf $(DEMO_STATE)
	./target/release/keyceremony run ceremonies/root-key-generation.yaml \
	    --bindings ceremonies/rehearsal/root-key-generation.bindings.yaml \
	    --state-dir $(DEMO_STATE) --out $(DEMO_OUT)
	@echo "Token: SOFTHSM2_CONF=$(DEMO_STATE)/softhsm2.conf  Outputs: $(DEMO_OUT)"

demo-headless: build
	rm -rf $(DEMO_STATE)
	./target/release/keyceremony run ceremonies/root-key-generation.yaml \
	    --bindings ceremonies/rehearsal/root-key-generation.bindings.yaml \
	    --state-dir $(DEMO_STATE) --out $(DEMO_OUT) \
	    --headless --answers ceremonies/rehearsal/root-key-generation.answers.yaml

test: deps
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo check --no-default-features
	cargo test

# Regenerates the committed example transcript (and its artifacts) from a
# headless rehearsal. The ceremony id changes each time.
example: build
	rm -rf .keyceremony/example transcripts/example-root-rehearsal.jsonl transcripts/root-key-generation-*
	./target/release/keyceremony run ceremonies/root-key-generation.yaml \
	    --bindings ceremonies/rehearsal/root-key-generation.bindings.yaml \
	    --state-dir .keyceremony/example --out transcripts \
	    --headless --answers ceremonies/rehearsal/root-key-generation.answers.yaml
	mv transcripts/root-key-generation-*.jsonl transcripts/example-root-rehearsal.jsonl
	./target/release/keyceremony verify transcripts/example-root-rehearsal.jsonl
