"""The live dashboard's templates (``*.html.j2``, served by ``chronoguard serve`` under
``/ui``), its fleet table (:mod:`~chronoguard.dashboard.live.table`), the series page's
charts (:mod:`~chronoguard.dashboard.live.series`) and their inline SVG
(:mod:`~chronoguard.dashboard.live.svg`): plain values in, markup out."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent

__all__ = ["TEMPLATES"]
