"""crysense: infant cry / scream / normal sound study and service.

One subpackage per concern; each may import only those listed before it (``tests/test_layers.py`` checks it):

- `config` (a module): paths, labels, audio parameters, seeds, run sizes: one place
- `data`: sources, decoding and validation, the manifest and its grouped splits, augmentation, the clip cache
- `training`: recipes, training sets, the early-stopping loop, the metrics models are chosen by, linear models
- `yamnet`: the YAMNet member (params, front end, model with the real AudioSet weights, fine-tuning)
- `speech`: Wav2Vec2 / HuBERT (backbones, inputs, cached states, teacher, pretraining, probe, fine-tuning, LP-FT head)
- `ensemble`: members on frozen features and the combiners
- `serving`: the alert rule, windowing, the Classifier, the command line
- `evaluation`: test statistics and figures, leave-one-source-out, the monitor's streaming evaluation, the label audit
- `reasons`: the cry-reason study (settings, nested CV, permutation tests, plots)
- `reporting`: figures and reports, generated README / docs text and the model card, the notebook runner
"""

__version__ = "0.1.0"
