"""What every discriminator of ``DISCRIMINATORS`` returns."""
from typing import List, NamedTuple

from torch import Tensor


class DiscriminatorOutput(NamedTuple):
    """Per scale, the logit map and the intermediate features (for feature matching).

    Attributes:
        logits: one (B, 1, h_s, w_s) map of raw real/fake scores per scale.
        features: per scale, the list of intermediate activations (B, C_l, h_l, w_l), input side
            first.
    """

    logits: List[Tensor]
    features: List[List[Tensor]]
