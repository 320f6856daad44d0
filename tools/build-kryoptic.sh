#!/usr/bin/env bash
# Builds kryoptic (a second, independent PKCS#11 soft token) from crates.io and prints the path of
# libkryoptic_pkcs11.so. Cached: a second call prints the path at once.
# Usage: build-kryoptic.sh [CACHE_DIR]   (default: $HOME/.cache/kryoptic)
# Debian 12 ships OpenSSL 3.0, so EdDSA (which needs OpenSSL >= 3.2) is left out.
# Configure the token with KRYOPTIC_CONF=<file.toml>:  [[slots]] slot = 1  dbtype = "sqlite"  dbargs = "<path>.sql"
set -euo pipefail
version=1.5.4
cache=${1:-$HOME/.cache/kryoptic}
so=$cache/kryoptic-$version/target/release/libkryoptic_pkcs11.so
if [ -f "$so" ]; then echo "$so"; exit 0; fi
need=()
for p in libclang-dev libssl-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2 || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2; }
  else
    echo "install first: apt-get install -y ${need[*]}" >&2; exit 2
  fi
fi
mkdir -p "$cache"
fetch=$(mktemp -d)
trap 'rm -rf "$fetch"' EXIT
mkdir -p "$fetch/src" && touch "$fetch/src/lib.rs"
printf '[package]\nname = "fetch-kryoptic"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nkryoptic = "=%s"\n' "$version" >"$fetch/Cargo.toml"
(cd "$fetch" && cargo fetch -q >&2)
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/kryoptic-$version | head -1)
rm -rf "$cache/kryoptic-$version" && cp -r "$src" "$cache/kryoptic-$version"
# CARGO_TARGET_DIR (set by many developers) would move the build away from
# the path printed below: pin it to the source copy.
(cd "$cache/kryoptic-$version" && CARGO_TARGET_DIR="$cache/kryoptic-$version/target" cargo build -q --release --no-default-features --features \
  "kryoptic-lib/dynamic kryoptic-lib/sqlitedb kryoptic-lib/ecc_min kryoptic-lib/ec_montgomery kryoptic-lib/rsa kryoptic-lib/hash_all kryoptic-lib/kdf_all kryoptic-lib/aes" >&2)
echo "$so"
