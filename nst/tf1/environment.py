"""The Python a TF 1.x notebook of 2017-2018 ran in, recreated for the length of one run.

Inside `tf1_environment(folder)`:

* `import tensorflow as tf` gives nst.tf1.api's namespace: TF 1.x's API (sessions,
  `tf.train.AdamOptimizer`, `tf.reset_default_graph`, ...) with TF 1.x's random
  numbers. Names TF 1.x's namespace lacks fall back to TensorFlow itself, and
  submodules (`from tensorflow.python.framework import ops`) are TensorFlow's;
* `scipy.misc` has `imread`, `imsave`, `imresize`, `toimage`, `fromimage` and
  `bytescale` again (nst.tf1.scipy_misc);
* NumPy prints as version 1.13 did: `np.set_printoptions(legacy="1.13")`, and a
  float32 array printed through float64 as 1.13 printed it (1.13 formatted each
  value with "%.8f"; today's legacy mode prints float32 values with their
  shortest digits instead: 6.4223056, where 1.13 printed 6.42230558);
* matplotlib draws off-screen (the Agg backend);
* the working folder is `folder`, which comes first on sys.path, and a module
  the folder holds (the course's own nst_utils.py, say) is imported from there
  even when the program has imported one of that name;
* TensorFlow's default graph starts empty, as in a new Jupyter kernel, and its
  devices are set up without their start-up lines on stderr.

Everything is put back as it was when the block ends; `sys.modules['__main__']`
is the notebook's namespace meanwhile, the module that `tf1_environment` yields.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import numpy._core.arrayprint as arrayprint

from nst.quiet import tensorflow_quietly
from nst.tf1 import scipy_misc
from nst.tf1.api import tf as tf1

with tensorflow_quietly():
    import tensorflow as real_tensorflow

SCIPY_MISC_NAMES = ("imread", "imsave", "imresize", "toimage", "fromimage", "bytescale")


class TensorflowModule(types.ModuleType):
    """What `import tensorflow` gives a notebook: nst.tf1.api's `tf`, then TensorFlow itself."""

    def __init__(self) -> None:
        super().__init__("tensorflow", real_tensorflow.__doc__)
        self.__path__ = real_tensorflow.__path__  # submodules are TensorFlow's own
        self.__spec__ = real_tensorflow.__spec__

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(tf1, name)
        except AttributeError:
            return getattr(real_tensorflow, name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(tf1)) | set(dir(real_tensorflow)))


class Numpy113FloatFormat(arrayprint.FloatingFormat):
    """NumPy's float formatter, taking float32 and float16 values as float64 in legacy 1.13
    mode, as NumPy 1.13 did ("%.8f" % value converts the value to a Python float)."""

    def __init__(self, data, *args, legacy=None, **kwargs):
        self._widen = legacy is not None and legacy <= 113 and data.dtype.itemsize < 8
        if self._widen:
            data = data.astype(np.float64)
        super().__init__(data, *args, legacy=legacy, **kwargs)

    def __call__(self, x):
        return super().__call__(np.float64(x) if self._widen else x)


@contextlib.contextmanager
def tf1_environment(folder: Path) -> Iterator[types.ModuleType]:
    """The notebook's `__main__` module, in the environment the module's doc describes."""
    folder = Path(folder).resolve()
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    with contextlib.ExitStack() as undo:
        undo.enter_context(_working_folder(folder))
        undo.enter_context(_modules_from(folder, {"__main__": main}))
        undo.enter_context(_module_attributes(sys.modules, {"tensorflow": TensorflowModule()}))
        undo.enter_context(_module_attributes(_scipy_misc(), _old_scipy_misc()))
        undo.enter_context(_numpy_113_printing())
        matplotlib.use("Agg")
        tf1.reset_default_graph()
        with tensorflow_quietly():  # the devices' start-up lines ("failed call to cuInit")
            real_tensorflow.config.list_physical_devices()
        yield main


def _old_scipy_misc() -> dict[str, Any]:
    return {name: getattr(scipy_misc, name) for name in SCIPY_MISC_NAMES}


def _scipy_misc() -> types.ModuleType:
    """scipy.misc, imported without its deprecation warning (a new one where SciPy has none)."""
    import scipy

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import scipy.misc

            return scipy.misc
    except ImportError:
        module = types.ModuleType("scipy.misc", __doc__)
        sys.modules["scipy.misc"] = scipy.misc = module
        return module


@contextlib.contextmanager
def _module_attributes(target, values: dict[str, Any]) -> Iterator[None]:
    """Set items of a dict (sys.modules) or attributes of a module; put the old back."""
    mapping = target if isinstance(target, dict) else target.__dict__
    missing = object()
    saved = {name: mapping.get(name, missing) for name in values}
    mapping.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                mapping.pop(name, None)
            else:
                mapping[name] = value


@contextlib.contextmanager
def _working_folder(folder: Path) -> Iterator[None]:
    before, path = Path.cwd(), list(sys.path)
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        os.chdir(before)
        sys.path[:] = path


@contextlib.contextmanager
def _modules_from(folder: Path, extra: dict[str, types.ModuleType]) -> Iterator[None]:
    """Forget, meanwhile, the imported modules that `folder` has files of, so that the folder's
    are imported, and put `extra` in; afterwards forget what the run imported from the folder
    and put back what was there before."""
    shadowed = {p.stem for p in folder.glob("*.py")} | {
        p.parent.name for p in folder.glob("*/__init__.py")
    }
    saved = {name: sys.modules.pop(name) for name in shadowed if name in sys.modules}
    saved.update({name: sys.modules[name] for name in extra if name in sys.modules})
    before = set(sys.modules) - set(extra)
    sys.modules.update(extra)
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None)
            if name in extra or (file and Path(file).resolve().is_relative_to(folder)):
                del sys.modules[name]
        sys.modules.update(saved)


@contextlib.contextmanager
def _numpy_113_printing() -> Iterator[None]:
    options = np.get_printoptions()
    np.set_printoptions(legacy="1.13")
    try:
        with _module_attributes(arrayprint, {"FloatingFormat": Numpy113FloatFormat}):
            yield
    finally:
        np.set_printoptions(**options)
