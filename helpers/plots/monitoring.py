"""Figures for the notebook on monitoring (filled in with that notebook)."""

from __future__ import annotations

__all__: list[str] = []
