"""Adversarial training of any inpainting generator (SAIR, LIIF, ...): an orthogonal objective."""
import contextlib
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from torch import Tensor, nn

from sair_toolbox.registry import DISCRIMINATORS, LOSSES, MODELS
from sair_toolbox.utils.errors import ConfigError

from .data_preprocessor import build_data_preprocessor, stack_masks

#: The keys of the ``OptimWrapperDict`` that :meth:`InpaintGAN.train_step` expects.
OPTIM_KEYS = ('generator', 'discriminator')


def _freeze(module: nn.Module) -> List[nn.Parameter]:
    """Stop gradients to ``module``'s trainable parameters; returns them (to unfreeze after)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    return params


def _sync_grads(module: nn.Module) -> None:
    """Average the gradients of ``module``'s trainable parameters over the processes (a no-op in a
    single process). A parameter without a gradient contributes zeros."""
    from mmengine.dist import all_reduce_params, get_world_size
    if get_world_size() < 2:
        return
    grads = []
    for p in module.parameters():
        if p.requires_grad:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
    if grads:
        all_reduce_params(grads, op='mean')


def _update(wrapper, loss: Tensor, module: nn.Module) -> None:
    """``OptimWrapper.update_params`` with the gradients averaged over processes before the step
    (the forwards and backwards run under DDP's ``no_sync``, see :meth:`InpaintGAN.train_step`)."""
    wrapper.backward(wrapper.scale_loss(loss))
    if wrapper.should_update():
        _sync_grads(module)
        wrapper.step()
        wrapper.zero_grad()


@MODELS.register_module()
class InpaintGAN(BaseModel):
    """A generator trained with its own loss plus adversarial, perceptual and feature-matching
    terms against a mask-aware discriminator.

    The generator is any inpainting model config (e.g. the ``model`` of ``sair_demo.py`` or
    ``liif_demo.py``) used only through its public forward modes: ``mode='loss'`` (its own
    objective, for SAIR the paper's ``L1 + alpha L2``), ``mode='tensor'`` (the full raw prediction
    (B, 3, H, W) in [0, 1], with gradients) and ``mode='predict'`` (validation and test).

    One training iteration (:meth:`train_step`, an :class:`~mmengine.optim.OptimWrapperDict`
    with keys ``'generator'`` and ``'discriminator'``), as mmagic's GAN models do:

    1. Generator forward (in the generator wrapper's context, e.g. its autocast): its own losses
       weighted by ``generator_loss_weight`` and the prediction ``pred``; the discriminator
       judges ``fake = I (1 - M) + pred M`` (``disc_input='composite'``) or ``pred`` (``'raw'``).
    2. Discriminator step: ``adv(D(I), real) + adv(D(fake.detach()), fake)`` (+ R1 on the reals)
       in one discriminator forward of the concatenated batch; update the discriminator only.
    3. Generator step, with the discriminator's parameters frozen: its losses + ``adv_G(D(fake))``
       + perceptual(pred, I) + feature matching + pixel loss; update the generator only.

    All losses are float32. The log holds every term, ``loss_d`` and ``loss_g`` (the totals) and
    ``loss`` (= ``loss_g``). Validation and test delegate to the generator's ``predict``, so
    :class:`~sair_toolbox.evaluation.metrics.InpaintingMetric` works unchanged. The checkpoint
    holds ``generator.*`` and ``discriminator.*``; both optimizers' states travel in the
    ``OptimWrapperDict`` state and the RNG states in ``RNGStateHook``'s, so resuming is exact.
    Distributed training needs ``model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel',
    find_unused_parameters=True)`` (set by the GAN configs), which wraps the two networks
    separately. One step runs the generator once for its loss and its prediction (a generator
    with ``loss_and_render``, such as SAIR; else twice) and differentiates
    the discriminator twice (R1's double backward), which DDP's reducer does not allow; so, as
    StyleGAN2's training loop does, everything runs under the wrappers' ``no_sync`` and the
    gradients are averaged over the processes explicitly before each optimizer step.

    Args:
        generator: ``MODELS`` config of the inpainting model.
        discriminator: ``DISCRIMINATORS`` config (sees ``cat(image, mask)``).
        adversarial_loss: ``LOSSES`` config of an ``AdversarialLoss`` (its ``loss_weight`` weights
            the generator side).
        generator_loss_weight: weight of the generator's own losses; 0 skips that forward.
        pixel_loss: optional ``LOSSES`` config on ``(pred, I, M)`` in [0, 1] (e.g. ``L1Loss``).
        perceptual_loss: optional ``LOSSES`` config on ``(pred, I)`` (e.g. ``PerceptualLoss``).
        feature_matching_loss: optional ``LOSSES`` config on the discriminator's features.
        r1_penalty: optional ``LOSSES`` config of an ``R1Penalty`` on the reals.
        disc_input: ``'composite'`` or ``'raw'``.
        data_preprocessor: default the generator config's, else ``InpaintDataPreprocessor``.
        init_cfg: MMEngine init config.
    """

    def __init__(self, generator: dict, discriminator: dict,
                 adversarial_loss: Optional[dict] = None,
                 generator_loss_weight: float = 1.0,
                 pixel_loss: Optional[dict] = None,
                 perceptual_loss: Optional[dict] = None,
                 feature_matching_loss: Optional[dict] = None,
                 r1_penalty: Optional[dict] = None,
                 disc_input: str = 'composite',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        generator = dict(generator)
        if data_preprocessor is None:
            data_preprocessor = generator.get('data_preprocessor')
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor),
                         init_cfg=init_cfg)
        if disc_input not in ('composite', 'raw'):
            raise ConfigError(f"InpaintGAN disc_input must be 'composite' or 'raw', got "
                              f'{disc_input!r}')
        if generator_loss_weight < 0:
            raise ConfigError(f'InpaintGAN generator_loss_weight must be >= 0, got '
                              f'{generator_loss_weight}')
        self.generator = MODELS.build(generator)
        self.discriminator = DISCRIMINATORS.build(discriminator)
        self.adversarial_loss = LOSSES.build(
            adversarial_loss or dict(type='AdversarialLoss', gan_type='nonsaturating'))
        self.generator_loss_weight = float(generator_loss_weight)
        self.pixel_loss = LOSSES.build(pixel_loss) if pixel_loss else None
        self.perceptual_loss = LOSSES.build(perceptual_loss) if perceptual_loss else None
        self.feature_matching_loss = (LOSSES.build(feature_matching_loss)
                                      if feature_matching_loss else None)
        self.r1_penalty = LOSSES.build(r1_penalty) if r1_penalty else None
        self.disc_input = disc_input

    # ------------------------------------------------------------------ pieces
    def generator_forward(self, img: Tensor, mask: Tensor, data_samples: list
                          ) -> Tuple[Dict[str, Tensor], Tensor, Tensor]:
        """The generator's own (weighted) losses, its prediction and the discriminator's input.

        Returns:
            ``(losses, pred, fake)``: ``pred`` and ``fake`` are (B, 3, H, W) in [0, 1] with
            gradients to the generator.
        """
        losses: Dict[str, Tensor] = {}
        if self.generator_loss_weight > 0:
            if hasattr(self._unwrapped_generator(), 'loss_and_render'):
                # One encoder and field pass for both (SAIR): same values as the two calls.
                own, pred = self.generator(img, data_samples, mode='loss_and_tensor')
            else:
                own = self.generator(img, data_samples, mode='loss')
                pred = self.generator(img, data_samples, mode='tensor')
            losses = {k: self.generator_loss_weight * v.float() for k, v in own.items()}
        else:
            pred = self.generator(img, data_samples, mode='tensor')
        pred = pred.float()
        fake = img * (1 - mask) + pred * mask if self.disc_input == 'composite' else pred
        return losses, pred, fake

    def discriminator_losses(self, real: Tensor, fake: Tensor, mask: Tensor
                             ) -> Dict[str, Tensor]:
        """The discriminator's losses on reals and (detached) fakes, plus R1 when configured."""
        use_r1 = self.r1_penalty is not None and self.r1_penalty.loss_weight > 0
        real_in = real.detach().requires_grad_(use_r1)
        b = real.shape[0]
        out = self.discriminator(torch.cat([real_in, fake.detach()]), torch.cat([mask, mask]))
        real_logits = [m[:b] for m in out.logits]
        fake_logits = [m[b:] for m in out.logits]
        losses = dict(
            loss_d_real=self.adversarial_loss(real_logits, target_is_real=True, is_disc=True),
            loss_d_fake=self.adversarial_loss(fake_logits, target_is_real=False, is_disc=True))
        if use_r1:
            losses['loss_d_r1'] = self.r1_penalty(real_logits, real_in)
        return losses

    def generator_adv_losses(self, real: Tensor, pred: Tensor, fake: Tensor, mask: Tensor
                             ) -> Dict[str, Tensor]:
        """The adversarial, feature-matching, perceptual and pixel terms of the generator."""
        b = real.shape[0]
        if self.feature_matching_loss is not None:
            out = self.discriminator(torch.cat([real.detach(), fake]), torch.cat([mask, mask]))
            fake_logits = [m[b:] for m in out.logits]
            real_feats = [[f[:b] for f in fs] for fs in out.features]
            fake_feats = [[f[b:] for f in fs] for fs in out.features]
        else:
            out = self.discriminator(fake, mask)
            fake_logits = out.logits
        losses = dict(loss_g_adv=self.adversarial_loss(fake_logits, target_is_real=True,
                                                       is_disc=False))
        if self.feature_matching_loss is not None:
            losses['loss_fm'] = self.feature_matching_loss(fake_feats, real_feats)
        if self.perceptual_loss is not None:
            losses['loss_perc'] = self.perceptual_loss(pred, real)
        if self.pixel_loss is not None:
            losses['loss_pix'] = self.pixel_loss(pred, real, mask)
        return losses

    def _no_sync(self):
        """DDP's ``no_sync`` of the wrapped networks (a no-op context outside DDP)."""
        stack = contextlib.ExitStack()
        for module in (self.generator, self.discriminator):
            if hasattr(module, 'no_sync'):
                stack.enter_context(module.no_sync())
        return stack

    # ------------------------------------------------------------------ MMEngine steps
    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One discriminator update, then one generator update (see the class doc).

        Args:
            data: the dataloader batch.
            optim_wrapper: :class:`~mmengine.optim.OptimWrapperDict` with ``'generator'`` and
                ``'discriminator'`` wrappers.

        Returns:
            the log variables (detached scalars).
        """
        missing = [k for k in OPTIM_KEYS if k not in getattr(optim_wrapper, 'optim_wrappers', {})]
        if missing:
            raise ConfigError('InpaintGAN needs optim_wrapper = dict(constructor='
                              "'MultiOptimWrapperConstructor', generator=..., discriminator=...); "
                              f'missing {missing}')
        g_wrap, d_wrap = optim_wrapper['generator'], optim_wrapper['discriminator']
        data = self.data_preprocessor(data, True)
        img, samples = data['inputs'], data['data_samples']
        mask = stack_masks(samples).to(img)

        with self._no_sync():
            with g_wrap.optim_context(self.generator):
                g_losses, pred, fake = self.generator_forward(img, mask, samples)

            with d_wrap.optim_context(self.discriminator):
                d_losses = self.discriminator_losses(img, fake, mask)
            loss_d, d_log = self.parse_losses(d_losses)
            _update(d_wrap, loss_d, self.discriminator)

            frozen = _freeze(self.discriminator)
            try:
                with g_wrap.optim_context(self.generator):
                    g_losses.update(self.generator_adv_losses(img, pred, fake, mask))
                loss_g, g_log = self.parse_losses(g_losses)
                _update(g_wrap, loss_g, self.generator)
            finally:
                for p in frozen:
                    p.requires_grad_(True)

        log = {k: v for k, v in d_log.items() if k != 'loss'}
        log.update({k: v for k, v in g_log.items() if k != 'loss'})
        log.update(loss_d=d_log['loss'], loss_g=g_log['loss'], loss=g_log['loss'])
        return log

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``'loss'``: the generator's losses of one step (no update, no discriminator loss);
        ``'predict'`` and ``'tensor'``: the generator's."""
        if mode == 'loss':
            mask = stack_masks(data_samples).to(inputs)
            losses, pred, fake = self.generator_forward(inputs, mask, data_samples)
            losses.update(self.generator_adv_losses(inputs, pred, fake, mask))
            return losses
        if mode in ('predict', 'tensor'):
            return self.generator(inputs, data_samples, mode=mode)
        raise ValueError(f'invalid mode {mode!r}; use loss, predict or tensor')

    # ------------------------------------------------------------------ inference
    def _unwrapped_generator(self) -> nn.Module:
        gen = self.generator
        return gen.module if hasattr(gen, 'no_sync') and hasattr(gen, 'module') else gen

    @property
    def inference_model(self) -> nn.Module:
        """The generator (unwrapped from DDP): what inference, label maps, text guidance, the
        visualization hook and the memory guard use, so that a GAN checkpoint serves wherever
        its generator's does (:func:`~sair_toolbox.apis.model.init_model` returns it)."""
        return self._unwrapped_generator()

    @torch.no_grad()
    def inpaint(self, *args, **kwargs) -> Tensor:
        """The generator's ``inpaint`` (e.g. :meth:`SAIR.inpaint`), so that a GAN checkpoint
        serves wherever a generator's does."""
        return self._unwrapped_generator().inpaint(*args, **kwargs)

    @torch.no_grad()
    def semantic_features(self, *args, **kwargs) -> Tensor:
        """The generator's ``semantic_features`` (SAIR with a semantic branch)."""
        return self._unwrapped_generator().semantic_features(*args, **kwargs)
