"""The box itself: paths, settings, keys, encrypted storage, checks and the `hearth` command."""


class HearthError(Exception):
    """An expected failure with a one-line message for the operator.

    The `hearth` command prints the message and exits non-zero; it never shows a
    traceback for these.
    """

    exit_code = 2
