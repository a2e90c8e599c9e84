"""One run of the command line: the loop that prints and saves, its folder, its progress
bars and the pictures it leaves.

Importing this package (the command line and each batch worker do, before TensorFlow
loads) chooses the CPU kernels TensorFlow will use: see nst/cpu_kernels.py.
"""

from nst.cpu_kernels import choose_cpu_kernels

choose_cpu_kernels()
