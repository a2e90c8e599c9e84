"""An image job: its checks before TensorFlow loads, the painting loop that prints and
saves, its run folder and the pictures it leaves.

Importing this package (neural_art.py's runs and each batch worker do, before TensorFlow
loads) chooses the CPU kernels TensorFlow will use: see nst/cpu_kernels.py.
"""

from nst.cpu_kernels import choose_cpu_kernels

choose_cpu_kernels()
