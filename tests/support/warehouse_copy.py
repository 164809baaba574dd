"""A private copy of the small org's warehouses, for tests that must write to them or
hold their lock (the session's `small_warehouse` files are shared and stay untouched)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from kpi.config import PipelineConfig, load_config


def copy_small_warehouse(small_warehouse: dict[str, Any], root: Path) -> tuple[PipelineConfig, Path]:
    """The working and published files copied under `root/data`, with a configuration
    pointing there; returns (config, config path)."""
    source = small_warehouse["config"]
    settings = yaml.safe_load((source.data_dir.parent / "pipeline.yaml").read_text())
    settings["warehouse"]["data_dir"] = str(root / "data")
    config_path = root / "pipeline.yaml"
    config_path.write_text(yaml.safe_dump(settings))
    config = load_config(config_path)
    for path in (config.working_warehouse, config.published_warehouse):
        path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.working_warehouse, config.working_warehouse)
    shutil.copy(source.published_warehouse, config.published_warehouse)
    return config, config_path
