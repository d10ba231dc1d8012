"""TensorFlow, imported once with this project's settings. YAMNet's weights load into a Keras 2 model, so tf-keras
must be chosen before TensorFlow is first imported; the C++ info lines ("could not find cuda drivers") say nothing
on a CPU machine. Every module that needs TensorFlow imports it from here."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers  # noqa: E402

# every fine-tuned classifier compiles its own steps, so leave-one-source-out's dozens of classifiers would each
# log a "retracing" warning that says nothing useful
tf.get_logger().setLevel("ERROR")

__all__ = ["tf", "keras", "layers"]
