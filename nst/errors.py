"""The error the program reports to its user as one sentence, without a traceback."""


class InputError(Exception):
    """Bad input from the user; the message names the input and what is wrong with it."""
