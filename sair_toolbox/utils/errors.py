"""Errors with one readable line, and the CLI wrapper that prints them without a traceback.

Every error a user can cause (bad data, missing weights, wrong shapes, bad config) is raised as a
subclass of :class:`SAIRError` with a message that says what is wrong and where. The tools catch
them and print ``<tool>: error: <message>`` (exit status 2). ``SAIR_DEBUG=1`` shows the traceback.
The classes take a single message argument, because MMEngine's ``build_from_cfg`` re-raises
``type(e)(prefix + message)``.
"""
import functools
import os
import re
import sys


class SAIRError(Exception):
    """Base class of the errors a user can cause and fix."""


class DataError(SAIRError, ValueError):
    """An image, mask, label map or list file is missing, corrupt, or does not fit."""


class ShapeError(SAIRError, ValueError):
    """A tensor has the wrong shape, size or value range."""


class WeightsNotFoundError(SAIRError, FileNotFoundError):
    """Pretrained weights are not on disk and cannot be downloaded."""


class ConfigError(SAIRError, ValueError):
    """A config value is invalid or inconsistent."""


#: Exceptions that the tools report as one line. ``FileNotFoundError`` is included because MMEngine
#: raises it for a missing config or checkpoint path.
USER_ERRORS = (SAIRError, FileNotFoundError, IsADirectoryError, NotADirectoryError)


#: How torch's DataLoader re-raises an exception from a worker process: the same type, with the
#: worker's whole traceback as the message; its last line is the original ``module.Class: msg``.
_WORKER_ERROR = re.compile(r'^Caught \w+ in DataLoader worker process \d+\.\s*Original Traceback')


def one_line(exc: BaseException) -> str:
    """The exception's message folded into one line (a DataLoader worker's traceback dropped)."""
    text = str(exc)
    if _WORKER_ERROR.match(text):
        last = [line for line in text.strip().splitlines() if line.strip()][-1]
        text = re.sub(r'^[\w.]+: ', '', last.strip(), count=1)
    msg = ' '.join(text.split())
    return msg or type(exc).__name__


def cli_main(func):
    """Decorate a tool's ``main`` so that user errors print one line and exit with status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            if os.environ.get('SAIR_DEBUG'):
                raise
            prog = os.path.basename(sys.argv[0]) or 'sair'
            print(f'{prog}: error: {one_line(exc)}', file=sys.stderr)
            sys.exit(2)

    return wrapper
