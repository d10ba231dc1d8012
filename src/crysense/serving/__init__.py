"""What users run: the alert rule shared by the service, the CLI and the study (`alerts`), windowing of long
recordings and raw PCM streams (`streaming`), the `Classifier` over the shipped ensemble (`inference`), the command
line (`cli`) and the real-time-factor benchmark (`benchmark`). The Temporal service (`temporal_workflow/`) builds on
these.

May import: `config`, `data`, `training`, `yamnet`, `speech`, `ensemble`. Importing `serving`, `alerts` or
`streaming` loads no TensorFlow or PyTorch (the Temporal workflow sandbox imports them); the models load when a
`Classifier` is.
"""
