"""Import-light constants (the web process reads them without numpy-heavy imports).

``MODEL_VERSION`` names the ``fp_index`` and ``fp_window`` vector spaces: bump it whenever the extractor, the
index code, its windows or ``index_stats.npz`` change (``INDEX_STATS_SHA256`` is checked by the tests to force that).
"""

from __future__ import annotations

INDEX_DIM = 1800
#: Changes whenever minutiae extraction changes (cache key for synthetic benchmark sets).
EXTRACTOR_VERSION = "mindtct-gabor.1"
MODEL_VERSION = "nbis-mindtct+pairhist1800.3"
INDEX_STATS_SHA256 = "c660d32c9935337ddaa8301b5a4b189e29ab383067d43d8cd14df1af427ad9b0"
