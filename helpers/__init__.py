"""Companion package of the cnn-course notebooks."""
