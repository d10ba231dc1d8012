"""The cry-reason study (notebook 06): its settings (`settings`), the models and the baby-grouped nested
cross-validation (`nested_cv`), permutation tests, leaky protocols and the identity probe (`permutation`), the
notebook's steps (`study`) and its figures (`plots`).

May import: `config`, `data`, `training`, `yamnet`, `speech`, `ensemble`, `serving`, `evaluation`.
"""
