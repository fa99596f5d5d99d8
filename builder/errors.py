"""The root of the errors ImageNet-tiny raises on purpose, each with a message that says what to do.

Every such error derives from :class:`ImageNetTinyError` and from the standard type it is a kind of
(``ValueError`` for bad values and files, ``OSError`` for archives and files that cannot be read or
written, ``FileNotFoundError`` for missing ones), as ``datasets``' own errors do: callers may catch either.
The command line reports these (and ``OSError``) in one line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ImageNetTinyError(Exception):
    """An input or state that ImageNet-tiny cannot use; the message names it and says what to do."""


class InputError(ImageNetTinyError, ValueError):
    """An argument or option whose value cannot be used (a size, a count, a file name, a format)."""


class MissingFileError(ImageNetTinyError, FileNotFoundError):
    """A file or folder that should be there and is not."""
