"""The chart library's JavaScript, for inlining: Vega, Vega-Lite and Vega-Embed in one bundle.

Where it comes from: ``vl-convert-python`` (the Vega project's own converter, a PyPI wheel
with the libraries built in) makes the bundle with ``vl_convert.javascript_bundle()``, offline:
no CDN, no npm at run time. Making it takes a few seconds, so it is cached by library version
in ``<state dir>/report-assets/`` (a failed cache write only costs the time again).

Why Vega-Lite and not plotly: plotly's wheel ships ``plotly.min.js`` at ~4.8 MB, which alone
nearly fills the 5 MB budget of the report; this bundle is ~0.9 MB. Vega renders SVG (crisp
when printed, countable marks for the browser test), takes a ``description`` for the SVG's
aria-label, and its specs are plain JSON we can build and test without the library.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from reconciler.kernel.errors import ReconcilerError

VL_VERSION = "6.4"  # the Vega-Lite of our specs' $schema (v6); vl-convert >= 1.8 has it
CACHE_DIR = "report-assets"
_SCRIPT_END = re.compile(r"</script", re.IGNORECASE)


class ChartLibraryMissing(ReconcilerError):
    """The optional chart extra is not installed."""


def _vlc() -> Any:
    try:
        import vl_convert
    except ImportError as e:
        raise ChartLibraryMissing(
            "the HTML report needs the chart library: pip install 'reconciler[report]' "
            "(or use --format markdown)") from e
    return vl_convert


def versions() -> str:
    vlc = _vlc()
    return f"vl-convert {getattr(vlc, '__version__', '?')}, Vega-Lite {VL_VERSION}"


def vega_bundle(cache_dir: str | os.PathLike[str] | None) -> str:
    """The bundle's source (defines ``window.vega``, ``vegaLite`` and ``vegaEmbed``)."""
    vlc = _vlc()
    tag = hashlib.sha256(f"{getattr(vlc, '__version__', '?')}|{VL_VERSION}".encode()).hexdigest()
    path = Path(cache_dir) / CACHE_DIR / f"vega-{tag[:16]}.js" if cache_dir else None
    if path is not None and path.is_file():
        text = path.read_text(encoding="utf-8")
        if text.rstrip().endswith(";") and "vegaEmbed" in text:
            return text
    if VL_VERSION not in vlc.get_vegalite_versions():
        raise ChartLibraryMissing(
            f"vl-convert {getattr(vlc, '__version__', '?')} lacks Vega-Lite {VL_VERSION}: "
            "pip install -U 'reconciler[report]'")
    text = str(vlc.javascript_bundle(vl_version=VL_VERSION))
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass
    return text


def inline_script(source: str) -> str:
    """JavaScript safe inside ``<script>…</script>``: no ``</script`` or ``<!--`` can end or
    bend the element (in a string or regex ``<\\/`` and ``<\\!`` mean the same)."""
    return _SCRIPT_END.sub(lambda m: "<\\/" + m.group(0)[2:], source).replace("<!--", "<\\!--")
