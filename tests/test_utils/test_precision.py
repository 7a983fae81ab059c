import contextlib

import pytest
import torch

from sair_toolbox.utils.errors import ConfigError
from sair_toolbox.utils.precision import autocast, check_precision


def test_names_are_checked_and_canonical():
    assert check_precision('BF16', 'cpu') == 'bf16'
    assert check_precision('fp32', 'cpu') == 'fp32'
    with pytest.raises(ConfigError, match='precision must be one of fp32, bf16, fp16'):
        check_precision('int8', 'cpu')


def test_fp32_is_no_autocast():
    assert isinstance(autocast('fp32', 'cpu'), contextlib.nullcontext)


@pytest.mark.parametrize('name,dtype', [('bf16', torch.bfloat16), ('fp16', torch.float16)])
def test_autocast_runs_matmul_in_the_requested_dtype(name, dtype):
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast(name, 'cpu'):
        out = a @ b
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), a @ b, atol=0.1, rtol=0.05)
