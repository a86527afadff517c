"""The one exception the package raises for a user's mistake or a bad file.

The CLI turns it into one sentence on stderr; anything else is a bug and keeps its traceback.
"""


class DenoiseError(Exception):
    """A problem the user can fix: bad input, missing file, unknown model, bad option."""


class OutputExistsError(DenoiseError):
    """The output file exists (or another process created it meanwhile) and --overwrite is off."""
