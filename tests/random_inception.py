"""torch-fidelity's FID Inception with seeded random weights, saved as a local weights file."""
from unittest import mock

import torch

#: The file name torch-fidelity's real weights have.
INCEPTION_FILE = 'weights-inception-2015-12-05-6726825d.pth'


def save_random_inception(folder) -> str:
    """Write ``folder/<INCEPTION_FILE>`` (random, scale-preserving init); returns its path."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    cls = 'torch_fidelity.feature_extractor_inceptionv3'
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        with mock.patch(f'{cls}.load_state_dict_from_url', return_value={}), \
                mock.patch.object(FeatureExtractorInceptionV3, 'load_state_dict'):
            net = FeatureExtractorInceptionV3('inception-v3-compat', ['2048'])
        for module in net.modules():  # features of order 1, not 1e-10
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(module.weight)
    path = f'{folder}/{INCEPTION_FILE}'
    torch.save(net.state_dict(), path)
    return path
