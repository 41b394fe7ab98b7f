"""Seeded generator of synthetic linked SSDA903 datasets with known true effects.

Examples
--------
>>> from reunistat.synthetic import default_config, generate
>>> data = generate(default_config(), seed=7, scale=0.002)
>>> list(data.tables["episodes"].columns)[:4]
['LA', 'CHILD', 'DECOM', 'RNE']
"""

from reunistat.synthetic.config import ConfigError, SynthConfig, default_config, load_config
from reunistat.synthetic.dataset import SyntheticData, generate, generate_into

__all__ = [
    "ConfigError",
    "SynthConfig",
    "SyntheticData",
    "default_config",
    "generate",
    "generate_into",
    "load_config",
]
