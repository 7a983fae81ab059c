from .errors import (ConfigError, DataError, SAIRError, ShapeError, WeightsNotFoundError,
                     cli_main)

__all__ = ['SAIRError', 'DataError', 'ShapeError', 'WeightsNotFoundError', 'ConfigError',
           'cli_main']
