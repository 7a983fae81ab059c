"""Registries of sair-toolbox.

``MODELS``, ``DATASETS``, ``TRANSFORMS``, ``METRICS``, ``HOOKS``, ``VISUALIZERS``, ``DATA_SAMPLERS``
and ``LOOPS`` are children of MMEngine's root registries, so the Runner finds them under
``default_scope='sair_toolbox'`` and falls back to MMEngine's for everything else (optimizers,
schedulers, loops).

``SEMANTIC_ENCODERS``, ``APPEARANCE_ENCODERS``, ``IMPLICIT_HEADS`` and ``SEMANTIC_FUSIONS`` are
deliberately *parentless*: MMEngine resolves a build under a default scope by searching the root of
the registry tree for a child with that scope name. A registry with ``parent=MODELS`` would resolve
to ``MODELS`` itself (same scope) and miss every component registered in the child. A parentless
registry is its own root, so the search returns it (``tests/test_registry.py`` proves this inside a
real ``Runner``).

Every registry has ``locations``: the first lookup imports the package that defines its modules,
and those packages import every module in their folder, so a component added as a new file
with ``@SEMANTIC_ENCODERS.register_module()`` is found without editing any other file.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

SCOPE = 'sair_toolbox'

MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['sair_toolbox.models'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['sair_toolbox.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE,
    locations=['sair_toolbox.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE,
    locations=['sair_toolbox.datasets.transforms'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['sair_toolbox.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['sair_toolbox.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=SCOPE, locations=['sair_toolbox.engine'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE, locations=['sair_toolbox.engine'])

# Children with nothing of our own: they let the Runner find a registry of scope 'sair_toolbox' for
# everything it builds (no "Failed to search registry" noise) and give users a place to add to.
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE)
MODEL_WRAPPERS = Registry('model wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE)
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS,
                               scope=SCOPE)
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor',
                                      parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE)
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            scope=SCOPE)
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE)
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, scope=SCOPE)

SEMANTIC_ENCODERS = Registry(
    'semantic encoder', scope=SCOPE, locations=['sair_toolbox.models.semantic_encoders'])
APPEARANCE_ENCODERS = Registry(
    'appearance encoder', scope=SCOPE, locations=['sair_toolbox.models.appearance_encoders'])
IMPLICIT_HEADS = Registry(
    'implicit head', scope=SCOPE, locations=['sair_toolbox.models.implicit_heads'])
SEMANTIC_FUSIONS = Registry(
    'semantic fusion', scope=SCOPE, locations=['sair_toolbox.models.fusions'])
# Providers of local weight files (``pretrained=dict(type=...)`` of the CLIP-based components):
# each makes sure its file exists (e.g. pretrains the demo CLIP on first use) and returns its path.
WEIGHTS_PROVIDERS = Registry(
    'weights provider', scope=SCOPE, locations=['sair_toolbox.models.weights_providers'])
# Training objectives and the adversarial critics (models/losses, models/discriminators): parentless
# like the other component registries, so they build inside a Runner's scope.
LOSSES = Registry('loss', scope=SCOPE, locations=['sair_toolbox.models.losses'])
DISCRIMINATORS = Registry(
    'discriminator', scope=SCOPE, locations=['sair_toolbox.models.discriminators'])
