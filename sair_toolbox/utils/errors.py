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
import warnings


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


class ResourceError(SAIRError, MemoryError):
    """A request needs more memory than the configured limit (estimated before it runs, or an
    allocation that failed while it ran)."""


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


#: Messages :func:`warn_once` has shown in this process.
_WARNED = set()


def _filter_action(message: str, category: type) -> str:
    """The action of the first warning filter matching ``message`` and ``category``."""
    for action, pattern, cat, _module, _lineno in warnings.filters:
        if (pattern is None or pattern.match(message)) and issubclass(category, cat):
            return action
    return warnings.defaultaction


def warn_once(message: str, category: type = UserWarning) -> None:
    """Warn the user once per process for the same message, on the main process only.

    Several callers may repeat a message (every model built from the same random CLIP weights);
    the user reads it once. A memo of our own, since Python's warning registry is cleared whenever
    any code changes the warning filters (MMEngine does around dataset code); a filter that asks
    for ``'always'`` (``-W always``, ``pytest.warns``) still sees every call. Only
    ``warnings.warn``: logging it through MMEngine as well printed it twice. The other ranks of a
    distributed run stay quiet.
    """
    if message in _WARNED and _filter_action(message, category) != 'always':
        return
    _WARNED.add(message)
    from mmengine.dist import get_rank
    if get_rank() == 0:
        warnings.warn(message, category, stacklevel=3)


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
