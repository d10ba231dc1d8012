"""How every model is trained: recipes (sources, weights, augmentation; `recipe`), the training sets they build
(`trainset`), the one early-stopping loop (`loop`), the scores models are chosen and reported by (`metrics`) and the
logistic regression on frozen features that members and probes share (`linear`).

May import: `config`, `data`.
"""
