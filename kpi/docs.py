"""The dbt project's documentation, generated after each publish into data/docs/dbt/.

`dbt docs generate --static` writes `static_index.html`, one self-contained page (the
manifest and catalog inlined) that opens from disk without a web server, next to dbt's
usual `index.html` + `manifest.json` + `catalog.json` (served by `dbt docs serve`, or any
static file server, from that folder). Every mart and column is described there, with its
lineage and the exposures (dbt_project/models/exposures.yml) that read it. The catalog is
read from the working warehouse, so this runs in the writer's slot, after publish.

The documentation describes the project's structure (models, columns, tests, exposures,
column types), not the night's data, and takes about 20 s (dbt compiles the project): it is
regenerated only when the fingerprint of the dbt build inputs (kpi.dbt_runner.build_fingerprint:
the dbt code, its vars, the reference tables) differs from the one it was generated for.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kpi.config import PipelineConfig

log = logging.getLogger(__name__)


def dbt_docs_dir(config: PipelineConfig) -> Path:
    return config.data_dir / "docs" / "dbt"


FINGERPRINT_FILE = ".kpi-fingerprint"


def generate_dbt_docs(config: PipelineConfig, force: bool = False) -> dict:
    """Run `dbt docs generate --static` into data/docs/dbt/ unless the docs there were
    generated from the same dbt inputs (or `force`). Returns {"page", "generated"}."""
    from kpi.dbt_runner import build_fingerprint, run_dbt

    target = dbt_docs_dir(config)
    page = target / "static_index.html"
    stamp = target / FINGERPRINT_FILE
    fingerprint = build_fingerprint(config)
    if not force and page.is_file() and stamp.is_file() and stamp.read_text() == fingerprint:
        log.info("dbt docs unchanged (same dbt code, vars and reference tables): %s", page)
        return {"page": str(page), "generated": False}
    target.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    run_dbt(config, "docs generate", extra_args=["--static", "--target-path", str(target)])
    if not page.is_file():
        raise RuntimeError(f"dbt docs generate --static finished but wrote no {page}")
    stamp.write_text(fingerprint)
    log.info("dbt docs generated: %s", page)
    return {"page": str(page), "generated": True}
