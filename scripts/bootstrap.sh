#!/usr/bin/env bash
# Installs everything Slimage's build and tests need on a Debian machine, at pinned versions,
# skipping what is already there. Nothing is downloaded from GitHub: Rust tools come from
# crates.io, JavaScript tools from npm (committed lock files), Chromium from Debian.
# Called by `make run` and `make test`; safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }
die() { printf 'bootstrap: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root to run: $* (install it by hand, or run as root)"
  fi
}

apt_updated=
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  say "installing Debian packages: $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (rustc 1.95 or newer)"
command -v npm >/dev/null || apt_install nodejs npm

# 1. The WASM target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 1b. nasm, for the x86 assembly of the AV1 encoder and decoder (rav1e, rav1d) behind AVIF, and
#     libavif's avifdec, the independent AVIF reader of the engine's tests and `make bench`.
command -v nasm >/dev/null || apt_install nasm
command -v avifdec >/dev/null || apt_install libavif-bin

# 2. cargo-leptos (0.3.11's lock file needs rustc 1.96; 0.3.10 builds on 1.95). `no_downloads`
#    turns a missing tool into a clear error instead of a download from GitHub.
if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (a long build, once)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION" --features no_downloads
fi

# 3. wasm-bindgen CLI at exactly Cargo.lock's wasm-bindgen. Not --locked: 0.2.130's own lock
#    names a webpki-roots release crates.io no longer serves.
[ -f Cargo.lock ] || cargo generate-lockfile
WASM_BINDGEN_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
[ -n "$WASM_BINDGEN_VERSION" ] || die "wasm-bindgen not found in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# 3b. cargo-fuzz for the engine's fuzz target (`make fuzz`).
CARGO_FUZZ_VERSION=0.13.1
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

# 4. npm tools from the committed lock files: tailwind + wasm-opt (root), Playwright (end2end).
#    A stamp records which lock file was installed, so an unchanged lock is not reinstalled.
npm_ci() {
  local dir=$1 stamp="$1/node_modules/.slimage-lock.sha256"
  local want; want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    say "installing npm packages in $dir"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
}
npm_ci .
npm_ci end2end

# 5. Chromium for the end-to-end tests (Debian's, never a downloaded one).
command -v chromium >/dev/null || apt_install chromium

# 6. PostgreSQL binaries, only when no server answers locally and none are installed, so that
#    scripts/with-postgres.sh can start a throwaway cluster.
if [ -z "${TEST_DATABASE_URL:-}" ] && ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql
fi

# 7. An S3 server for the storage tests (moto, from PyPI; pinned).
MOTO_VERSION=5.2.1
if ! command -v moto_server >/dev/null; then
  command -v pip3 >/dev/null || apt_install python3-pip
  say "installing moto $MOTO_VERSION (S3 server for the tests)"
  pip3 install --quiet --disable-pip-version-check "moto[s3,server]==$MOTO_VERSION"
fi

# 8. TinyPNG's own Python client, for the test that drives Slimage with it (pinned).
TINIFY_VERSION=1.7.2
if ! python3 -c "import tinify" 2>/dev/null; then
  command -v pip3 >/dev/null || apt_install python3-pip
  say "installing tinify $TINIFY_VERSION (the official client, for the API compatibility test)"
  pip3 install --quiet --disable-pip-version-check "tinify==$TINIFY_VERSION"
fi
command -v openssl >/dev/null || apt_install openssl

# 8b. The OpenAPI document's validator and the schema-driven API test (pinned).
SCHEMATHESIS_VERSION=4.32.5
OPENAPI_VALIDATOR_VERSION=0.9.0
if [ "$(schemathesis --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)" != "$SCHEMATHESIS_VERSION" ] \
   || ! command -v openapi-spec-validator >/dev/null; then
  command -v pip3 >/dev/null || apt_install python3-pip
  say "installing schemathesis $SCHEMATHESIS_VERSION and openapi-spec-validator $OPENAPI_VALIDATOR_VERSION"
  pip3 install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    "openapi-spec-validator==$OPENAPI_VALIDATOR_VERSION"
fi

# 9. Reference tools for `make bench` only (Debian's pngquant; oxipng and mozjpeg are linked in).
if [ "${1:-}" = "--bench" ] && ! command -v pngquant >/dev/null; then
  apt_install pngquant
fi

say "ready"
