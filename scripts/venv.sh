# Sourced by scripts/run and scripts/test: make .venv (if missing) and install a
# requirements file into it (again only when the requirements files changed).
# Usage: ensure_venv requirements.txt

ensure_venv() {
    local requirements="$1"
    local python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "Orderflow needs Python 3.11 or newer as '$python' (set PYTHON=... to choose another)." >&2
            exit 1
        fi
        echo "==> creating .venv with $("$python" --version)"
        "$python" -m venv .venv
    fi
    local stamp=".venv/.installed-${requirements%.txt}"
    local digest
    digest="$(cat requirements.txt requirements-dev.txt bench/requirements.txt | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
        echo "==> installing $requirements into .venv"
        .venv/bin/python -m pip install --disable-pip-version-check --quiet -r "$requirements"
        echo "$digest" >"$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}
