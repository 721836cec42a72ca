#!/bin/sh
# Create the virtual environment VENV if it is missing, then install into it: with uv when it is
# on PATH or can be installed from the package index, else with pip. INSTALLER=pip forces pip.
# Usage: tools/install.sh VENV REQUIREMENT...     (PYTHON picks the interpreter, default python3)
set -eu
venv=$1
shift
python=${PYTHON:-python3}

find_uv() {
    [ "${INSTALLER:-auto}" = pip ] && return 0
    if command -v uv >/dev/null 2>&1; then
        command -v uv
    elif [ -x "$venv/bin/uv" ]; then
        echo "$venv/bin/uv"
    else
        # Not on PATH: uv is a wheel on the package index; it goes into the venv it installs.
        [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
        if "$venv/bin/python" -m pip install -q uv >/dev/null 2>&1; then
            echo "$venv/bin/uv"
        fi
    fi
}

uv=$(find_uv)
if [ -n "$uv" ]; then
    echo "installing into $venv with $("$uv" --version)"
    [ -x "$venv/bin/python" ] || "$uv" venv -q --seed --python "$python" "$venv"
    # Compiled now, once: with PYTHONDONTWRITEBYTECODE set (as in some sandboxes) every process
    # (kernels, subprocesses, test workers) would otherwise compile what it imports, each time.
    "$uv" pip install -q --compile-bytecode --python "$venv/bin/python" "$@"
else
    [ "${INSTALLER:-auto}" = pip ] || echo "uv is not on PATH and could not be installed: using pip"
    echo "installing into $venv with pip"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q "$@"
fi
