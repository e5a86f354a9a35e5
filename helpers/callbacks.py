"""Course callbacks (like Keras's own: ``Args:`` docstrings with defaults, state reset in
``on_train_begin`` so one instance can be reused, registered for safe ``.keras`` round-trips)."""

from __future__ import annotations
