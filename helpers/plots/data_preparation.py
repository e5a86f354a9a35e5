"""Figures for the notebook on data preparation (filled in with that notebook)."""

from __future__ import annotations

__all__: list[str] = []
