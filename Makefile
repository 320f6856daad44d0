# keyceremony: the two commands of the README, and their parts.
#
#   make demo   a rehearsal of the root-key ceremony in the terminal UI, on a
#               throwaway SoftHSM2 token, with the DEMO-ONLY participants
#   make test   everything CI checks: format, lints, tests (on SoftHSM2 and
#               on kryoptic, a second PKCS#11 implementation built here)
#
# Both install what they need (SoftHSM2, OpenSC, openssl, age, tmux; for
# kryoptic libclang, libssl headers, pkg-config) with apt-get when running as
# root, and otherwise print the exact command.

DEMO_STATE := .keyceremony/demo
DEMO_OUT   := $(DEMO_STATE)/out
PACKAGES   := softhsm2 opensc openssl age tmux openssh-client
KRYOPTIC_PACKAGES := libclang-dev libssl-dev pkg-config
# An independent PKCS#11 client for tests/backup_kek_attacks.rs; the player
# that plays a `run --record` recording in tests/tui_tmux.rs.
TEST_PACKAGES := python3-pykcs11 asciinema
# Outside the checkout, so a fresh clone on the same machine (CI) reuses the
# build; a cold one takes about 1.5 minutes on 2 cores.
KRYOPTIC_CACHE ?= $(HOME)/.cache/kryoptic

.PHONY: demo demo-headless test deps kryoptic build example rehearsal-vendor-token

deps:
	@./.ci/deps $(PACKAGES)

# Builds (or finds in the cache) kryoptic and prints its module's path.
kryoptic:
	@./.ci/deps $(KRYOPTIC_PACKAGES)
	@./tools/build-kryoptic.sh $(KRYOPTIC_CACHE)

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

# A rehearsal for HSMs initialized with the vendor's tool (CloudHSM,
# YubiHSM 2): softhsm2-util stands in for the vendor's tool and initializes
# the token with the rehearsal user PIN before the ceremony adopts it.
VENDOR_STATE := .keyceremony/vendor-token
rehearsal-vendor-token: build
	rm -rf $(VENDOR_STATE)
	./target/release/keyceremony hsm status --state-dir $(VENDOR_STATE) > /dev/null
	SOFTHSM2_CONF=$(VENDOR_STATE)/softhsm2.conf softhsm2-util --init-token --free \
	    --label vendor-root --so-pin any-so-pin \
	    --pin "$$(cat ceremonies/rehearsal/vendor-token.user-pin)"
	./target/release/keyceremony run ceremonies/root-key-generation-vendor-token.yaml \
	    --bindings ceremonies/rehearsal/root-key-generation-vendor-token.bindings.yaml \
	    --state-dir $(VENDOR_STATE) --out $(VENDOR_STATE)/out $(ARGS)
	@echo "The user PIN to type: ceremonies/rehearsal/vendor-token.user-pin (a rehearsal PIN)"

# tests/hsm_kryoptic.rs fails without KRYOPTIC_MODULE's module (it would
# build one itself, in the same cache, when the variable is unset).
test: deps
	@./.ci/deps $(KRYOPTIC_PACKAGES) $(TEST_PACKAGES)
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo check --no-default-features
	module=$$(./tools/build-kryoptic.sh $(KRYOPTIC_CACHE)) && \
	    KRYOPTIC_MODULE="$$module" cargo test

# Regenerates the committed example transcript (and its artifacts) from a
# headless rehearsal. The ceremony id changes each time.
example: build
	rm -rf .keyceremony/example .keyceremony/example-backup .keyceremony/example-dr \
	    transcripts/example-*.jsonl transcripts/root-key-generation-* \
	    transcripts/dr-restore-rehearsal-* transcripts/custodian-rotation-* \
	    transcripts/intermediate-ca-*
	$(call rehearse,root-key-generation,.keyceremony/example,example-root-rehearsal)
	$(call rehearse,root-key-generation-backup,.keyceremony/example-backup,example-root-backup-rehearsal)
	$(call rehearse,dr-restore-rehearsal,.keyceremony/example-dr,example-dr-restore-rehearsal)
	# The intermediate ceremony signs with the root token of the first one.
	$(call rehearse,intermediate-ca,.keyceremony/example,example-intermediate-ca)
	# The rotation works on the backup ceremony's token.
	$(call rehearse,custodian-rotation,.keyceremony/example-backup,example-custodian-rotation)
	./target/release/keyceremony verify transcripts/example-dr-restore-rehearsal.jsonl \
	    --original transcripts/example-root-backup-rehearsal.jsonl

# $(call rehearse,SCRIPT,STATE,NAME): a headless rehearsal of SCRIPT whose
# transcript becomes transcripts/NAME.jsonl, then verified.
define rehearse
	./target/release/keyceremony run ceremonies/$(1).yaml \
	    --bindings ceremonies/rehearsal/$(1).bindings.yaml \
	    --state-dir $(2) --out transcripts \
	    --headless --answers ceremonies/rehearsal/$(1).answers.yaml
	mv transcripts/$(1)-2*.jsonl transcripts/$(3).jsonl
	./target/release/keyceremony verify transcripts/$(3).jsonl
endef
