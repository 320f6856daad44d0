#!/usr/bin/env bash
# Builds kryoptic (a second, independent PKCS#11 soft token) from crates.io and prints the path of
# libkryoptic_pkcs11.so on stdout (everything else goes to stderr). Cached: a second call prints
# the path at once. A cold build takes about 1.5 minutes on 2 cores once the crates are downloaded.
# Usage: build-kryoptic.sh [CACHE_DIR]   (default: $HOME/.cache/kryoptic, which survives a fresh
# checkout, so CI on the same machine builds it once)
# Debian 12 ships OpenSSL 3.0, so EdDSA (which needs OpenSSL >= 3.2) is left out.
# Configure the token with KRYOPTIC_CONF=<file.toml>:  [[slots]] slot = 1  dbtype = "sqlite"  dbargs = "<path>.sql"
set -euo pipefail
version=1.5.4
cache=${1:-$HOME/.cache/kryoptic}
build=$cache/kryoptic-$version
so=$build/target/release/libkryoptic_pkcs11.so
# Written after a build succeeds: an interrupted build leaves no stamp and is redone.
stamp=$build/.built
if [ -f "$stamp" ] && [ -f "$so" ]; then echo "$so"; exit 0; fi

need=()
for p in libclang-dev libssl-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2 || {
      apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
    }
  else
    echo "building kryoptic needs: sudo apt-get install -y ${need[*]}" >&2
    exit 2
  fi
fi

mkdir -p "$cache"
# Parallel callers (test binaries, make) wait for one build instead of
# deleting each other's half-built tree.
exec 9>"$cache/.lock"
flock 9
if [ -f "$stamp" ] && [ -f "$so" ]; then echo "$so"; exit 0; fi

echo "building kryoptic $version in $build (a few minutes on 2 cores)" >&2
fetch=$(mktemp -d)
trap 'rm -rf "$fetch"' EXIT
mkdir -p "$fetch/src" && touch "$fetch/src/lib.rs"
printf '[package]\nname = "fetch-kryoptic"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nkryoptic = "=%s"\n' "$version" >"$fetch/Cargo.toml"
(cd "$fetch" && CARGO_TARGET_DIR="$fetch/target" cargo fetch -q >&2)
src=$(find "${CARGO_HOME:-$HOME/.cargo}"/registry/src -maxdepth 2 -type d -name "kryoptic-$version" | head -1)
if [ -z "$src" ]; then echo "cargo fetch did not unpack kryoptic-$version" >&2; exit 1; fi
rm -rf "$build" && cp -r "$src" "$build"
# The crate ships its Cargo.lock: --locked builds the dependency versions its
# authors tested. CARGO_TARGET_DIR (set by many developers) would move the
# build away from the path printed below: pin it to the source copy.
(cd "$build" && CARGO_TARGET_DIR="$build/target" cargo build -q --locked --release --no-default-features --features \
  "kryoptic-lib/dynamic kryoptic-lib/sqlitedb kryoptic-lib/ecc_min kryoptic-lib/ec_montgomery kryoptic-lib/rsa kryoptic-lib/hash_all kryoptic-lib/kdf_all kryoptic-lib/aes" >&2)
touch "$stamp"
echo "$so"
