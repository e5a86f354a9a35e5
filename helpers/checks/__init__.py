"""Self-checks for the exercises: ``checks.<name>(answer)`` prints what is right or what to change.

Each notebook's checks live in their own module and are re-exported here, so a notebook calls
``checks.conv2d(my_conv2d)`` without knowing where a check is defined.
"""

from helpers.checks._core import CheckResult, Hint, exercise
from helpers.checks.foundations import conv2d, conv_output_size, lenet5_parameters

__all__ = [
    "CheckResult", "Hint", "exercise",
    # 01_cnn_foundations
    "conv2d", "conv_output_size", "lenet5_parameters",
]
