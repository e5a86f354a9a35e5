"""Figures for the notebook on regularization (filled in with that notebook)."""

from __future__ import annotations

__all__: list[str] = []
