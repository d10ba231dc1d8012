"""The data: the public sources and their label rules (`sources`, `donateacry`), decoding and validating any audio
file (`audio`), the manifest with its deduplication and grouped splits (`manifest`), the same recording found in two
collections (`recordings`), augmented views (`augment`), clip versions and cached network outputs (`clipcache`),
hand-made log-mel features (`features`), notebook 01's data study (`study`) and the set-up every notebook
shares (`session.setup`).

May import: `config`, and `yamnet.params` alone (the hand-made log-mel features use YAMNet's front-end parameters;
it is a plain dataclass and loads no TensorFlow).
"""
