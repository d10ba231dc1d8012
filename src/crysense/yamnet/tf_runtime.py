"""TensorFlow, imported once with this project's settings. YAMNet's weights load into a Keras 2 model, so tf-keras
must be chosen before TensorFlow is first imported. Every module that needs TensorFlow imports it from here.

TensorFlow's C++ start-up writes straight to file descriptor 2, before its log level applies ("oneDNN custom
operations are on", "could not find cuda drivers", "failed call to cuInit"): on a CPU machine they say nothing, and in
a notebook report they are red blocks. They are silenced at the source: descriptor 2 points at /dev/null while
TensorFlow loads and looks for devices; a failed import still raises, with its Python traceback."""
import contextlib
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _quiet_stderr_fd():
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


with _quiet_stderr_fd():
    import tensorflow as tf
    import tf_keras as keras
    from tf_keras import layers

    tf.config.list_physical_devices()   # the device search (cuInit) happens here, still silenced

# every fine-tuned classifier compiles its own steps, so leave-one-source-out's dozens of classifiers would each
# log a "retracing" warning that says nothing useful
tf.get_logger().setLevel("ERROR")

__all__ = ["tf", "keras", "layers"]
