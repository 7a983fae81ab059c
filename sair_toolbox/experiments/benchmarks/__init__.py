"""The toolbox's measurements, one module per suite; ``tools/benchmark.py`` is their CLI.

- :mod:`.heads`: the implicit heads' fast path against the plain reference of Eq. 1 / Eq. 5.
- :mod:`.model`: the SAIR paper config in float32 / bfloat16, folded SIR or explicit field.
- :mod:`.linear`: the CPU kernels for the heads' MLP layers.
- :mod:`.demo_step`: the demo training step with the appearance encoder NCHW against NHWC.
- :mod:`.demo_jobs`: demo training as one run on all cores against one run per core.
- :mod:`.encoder`: the frozen MaskCLIP encoder's blocks, open_clip's against batch-first.
- :mod:`.precision`: float32 against bfloat16 autocast here, the CPU kind and ``auto``'s pick.
- :mod:`.holes`: hole-only ``SAIR.inpaint`` against the full render + composite, 10 / 25 / 50 %.
- :mod:`.photos`: 12 MP and 1 MP photos through ``tools/inpaint.py``; SAIR's crop path beside
  LaMa's big-lama under IOPaint's Crop strategy.
- :mod:`.allocators`: a benchmark run under glibc's and the tuned allocator.
- :mod:`.common`: the timing and memory helpers.

The suites print tables (the README's measured sections are made from them); they import only
from the layers below (models, engine, utils; the photos suite also from apis).
"""
