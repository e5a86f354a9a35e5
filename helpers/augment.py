"""Label-preserving augmentation presets built from Keras preprocessing layers.

A preset only holds transformations that keep the label true for its kind of data: a horizontally
flipped "2" is no longer a "2", so the digit preset never flips, while a flipped truck is still a
truck. Every preset expects pixels in ``[0, 1]`` (what ``helpers.data.load`` returns) and is a no-op
at inference (``training=False``).
"""

from __future__ import annotations

import keras
from keras import layers

from helpers import config

# Which preset fits which dataset (``folder:`` datasets default to "objects").
PRESET_FOR_DATASET = {"mnist5k": "digits", "digits": "digits", "mnist": "digits",
                      "fashion_mnist": "clothing", "cifar10": "objects"}
PRESETS = ("digits", "clothing", "objects")


def preset(name: str, *, strength: float = 1.0, seed: int = config.DEFAULT_SEED) -> keras.Sequential:
    """A ``keras.Sequential`` named ``augment_<name>`` for a preset or a dataset name.

    Args:
        name: ``"digits"``, ``"clothing"``, ``"objects"``, or a dataset name such as ``"mnist5k"``.
        strength: scales every range (1.0 default; 0.5 is gentler, 2.0 harsher).
        seed: seeds the random transformations.
    """
    kind = PRESET_FOR_DATASET.get(name, "objects" if name.startswith("folder:") else name)
    if kind not in PRESETS:
        raise ValueError(
            f"Unknown augmentation preset {name!r}. Use one of {', '.join(PRESETS)} or a dataset name "
            f"({', '.join(PRESET_FOR_DATASET)})."
        )
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0 < strength <= 3:
        raise ValueError(f"strength must be in (0, 3]. Received: strength={strength!r}")
    s = float(strength)
    if kind == "digits":  # small shifts, tilts and size changes; never flips
        steps = [layers.RandomRotation(0.03 * s, fill_mode="constant", seed=seed),
                 layers.RandomTranslation(0.08 * s, 0.08 * s, fill_mode="constant", seed=seed + 1),
                 layers.RandomZoom(0.08 * s, fill_mode="constant", seed=seed + 2)]
    elif kind == "clothing":  # left/right flips keep clothes what they are; no vertical flips
        steps = [layers.RandomFlip("horizontal", seed=seed),
                 layers.RandomTranslation(0.06 * s, 0.06 * s, fill_mode="constant", seed=seed + 1),
                 layers.RandomZoom(0.06 * s, fill_mode="constant", seed=seed + 2)]
    else:  # natural photos: flips, shifts, zoom, contrast
        steps = [layers.RandomFlip("horizontal", seed=seed),
                 layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed + 1),
                 layers.RandomZoom(0.1 * s, fill_mode="reflect", seed=seed + 2),
                 layers.RandomContrast(0.2 * s, value_range=(0, 1), seed=seed + 3)]
    return keras.Sequential(steps, name=f"augment_{kind}")
