"""Wav2Vec2 and HuBERT: where a backbone comes from and which one the probe chose (`backbones`), what the network is
fed (`inputs`), the cached frozen states and the top layers run on them (`states`), AudioSet YAMNet as the pretraining
teacher (`teacher`), self-supervised pretraining (`pretrain`), the linear probe (`probe`), fine-tuning on cached states
(`transformer`), the LP-FT head that starts as a fitted probe (`linear_head`) and the Wav2Vec2 member's names
(`wav2vec2`).

May import: `config`, `data`, `training`, `yamnet` (the teacher). PyTorch and transformers load with these modules.
"""
