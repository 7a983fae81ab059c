"""The bottom layer (with ``structures`` and ``registry``): errors, safe checkpoints, config
helpers, process and RNG state. Imports nothing from the layers above."""
from .errors import (ConfigError, DataError, SAIRError, ShapeError, WeightsNotFoundError,
                     cli_main)

__all__ = ['SAIRError', 'DataError', 'ShapeError', 'WeightsNotFoundError', 'ConfigError',
           'cli_main']
