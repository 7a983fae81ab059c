"""Fixtures of the weights-provider tests."""
import logging

import pytest


@pytest.fixture
def caplog():
    """Records of the current MMEngine logger (which does not propagate to pytest's caplog)."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
