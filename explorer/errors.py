"""One exception type for everything a user can get wrong.

`InputError` is a ValueError whose message is one sentence saying what was wrong and what
to do. The UI shows it as it is; notebooks see an ordinary ValueError.
"""


class InputError(ValueError):
    """Bad user input (tensor, text, file, checkpoint). The message is meant for people."""
