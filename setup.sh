#!/usr/bin/env bash
# One-shot setup on a fresh Debian/Ubuntu machine: system fonts for the renderers, a virtual
# environment, torch (CPU wheel first, so no CUDA build is pulled in), then pixel-bench with all
# extras. Usage: bash setup.sh [VENV_DIR]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")"
VENV=${1:-.venv}
PY=${PYTHON:-python3}

# fonts-noto-core: Pango's glyph fallback draws from it; the golden renderings were made with it.
# libpango/libcairo are used through cffi (no -dev packages needed). tesseract-ocr: the first
# OCR engine of the generative tasks (LAMBADA, bAbI; its English model comes with it).
if ! fc-list 2>/dev/null | grep -q "NotoSans-Regular" || ! command -v tesseract >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      fonts-noto-core libpango-1.0-0 libpangocairo-1.0-0 libcairo2 fontconfig \
      tesseract-ocr >/dev/null
  else
    echo "setup.sh: please install fonts-noto-core, libpango-1.0-0, libpangocairo-1.0-0," \
      "libcairo2 and tesseract-ocr" >&2
  fi
fi

# Noto Sans CJK (Debian fonts-noto-cjk) for the Chinese, Japanese and Korean treebanks, unpacked
# into the pixel-bench cache as a fallback-fonts folder ("--set fallback_fonts_dir=noto-cjk"),
# NOT installed system-wide: a system-wide CJK font changes Pango's fallback for every renderer
# and breaks the golden renderings (made without it). See docs/multilingual.md.
CJK_DIR="${PIXEL_BENCH_CACHE:-$HOME/.cache/pixel-bench}/fonts/noto-cjk"
if [ ! -f "$CJK_DIR/NotoSansCJK-Regular.ttc" ] && command -v apt-get >/dev/null \
    && command -v dpkg-deb >/dev/null; then
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download fonts-noto-cjk >/dev/null 2>&1 \
      && dpkg-deb -x fonts-noto-cjk_*.deb x); then
    mkdir -p "$CJK_DIR" && cp "$tmp"/x/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc "$CJK_DIR"/
  else
    echo "setup.sh: could not fetch fonts-noto-cjk; CJK text will render as hex boxes" >&2
  fi
  rm -rf "$tmp"
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first, pinned, from pip (uv/poetry would fetch a multi-GB CUDA build here).
"$VENV/bin/python" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
"$VENV/bin/python" -m pip install -q -e ".[all]"
echo "setup.sh: ready; activate with: source $VENV/bin/activate"
