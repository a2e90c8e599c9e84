"""Building blocks of the neural style transfer program.

The top-level scripts keep the assignment's vocabulary (`neural_art.py`,
`nst_utils.py`); this package holds the pieces they are made of.
"""
