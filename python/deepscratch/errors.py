"""The exceptions of the deepscratch package.

Every failing call of libdeepscratch returns a status code (``ds_status`` in
``include/deepscratch.h``) and leaves a message in ``ds_last_error()``. The
package turns each status into one exception class below, carrying that
message (``str(e)`` and ``e.message``) and the status number (``e.status``).
Checks the package makes itself before calling the library raise the same
classes with the status the library would have returned.

    Error                     base class of all of them
    |-- InvalidArgument       DS_ERR_INVALID_ARGUMENT (1); also a ValueError
    |-- FileError             DS_ERR_IO (2); also an OSError
    |-- BadModel              DS_ERR_BAD_MODEL (3)
    |-- BadImage              DS_ERR_BAD_IMAGE (4)
    |-- VersionMismatch       DS_ERR_VERSION_MISMATCH (5), and a library too
    |                         old for the method called
    |-- Internal              DS_ERR_INTERNAL (6), and unknown status codes
    `-- LibraryNotFound       libdeepscratch.so could not be loaded; also an
                              OSError (status None)
"""

from __future__ import annotations

from typing import Optional

DS_OK = 0
DS_ERR_INVALID_ARGUMENT = 1
DS_ERR_IO = 2
DS_ERR_BAD_MODEL = 3
DS_ERR_BAD_IMAGE = 4
DS_ERR_VERSION_MISMATCH = 5
DS_ERR_INTERNAL = 6

STATUS_NAMES = {
    DS_OK: "DS_OK",
    DS_ERR_INVALID_ARGUMENT: "DS_ERR_INVALID_ARGUMENT",
    DS_ERR_IO: "DS_ERR_IO",
    DS_ERR_BAD_MODEL: "DS_ERR_BAD_MODEL",
    DS_ERR_BAD_IMAGE: "DS_ERR_BAD_IMAGE",
    DS_ERR_VERSION_MISMATCH: "DS_ERR_VERSION_MISMATCH",
    DS_ERR_INTERNAL: "DS_ERR_INTERNAL",
}


class Error(Exception):
    """A failure of libdeepscratch or of a call to it.

    Attributes:
        message: the library's ``ds_last_error()`` text (or the package's own
            message for a check made in Python); ``str(error)`` is this text.
        status: the ``ds_status`` number (1 to 6, or an unknown code a newer
            library returned), or None when no status applies.
    """

    #: The status this class stands for (None for LibraryNotFound).
    default_status: Optional[int] = None

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.status = self.default_status if status is None else status

    def __str__(self) -> str:
        return self.message

    @property
    def status_name(self) -> Optional[str]:
        """The status's constant name ("DS_ERR_IO", ...), or None."""
        if self.status is None:
            return None
        return STATUS_NAMES.get(self.status, "status %d" % self.status)


class InvalidArgument(Error, ValueError):
    """DS_ERR_INVALID_ARGUMENT: a value that does not fit the model or the
    call (wrong size or shape, NaN pixel, unknown format), or a closed model."""

    default_status = DS_ERR_INVALID_ARGUMENT


class FileError(Error, OSError):
    """DS_ERR_IO: a file could not be opened or read. The message names the
    file; ``filename`` holds it too when the package knows it."""

    default_status = DS_ERR_IO

    def __init__(self, message: str, status: Optional[int] = None, filename: Optional[str] = None):
        super().__init__(message, status)
        if filename is not None:
            self.filename = filename


class BadModel(Error):
    """DS_ERR_BAD_MODEL: not a valid DeepScratch model file (damaged,
    truncated, a newer format, or beyond a size limit)."""

    default_status = DS_ERR_BAD_MODEL


class BadImage(Error):
    """DS_ERR_BAD_IMAGE: not a usable image (not a PNG, truncated, too
    large, or no digit in it)."""

    default_status = DS_ERR_BAD_IMAGE


class VersionMismatch(Error):
    """DS_ERR_VERSION_MISMATCH: the library's major version is not the one
    this package was written for, or the library's minor version lacks the
    function a method needs (the message names both versions)."""

    default_status = DS_ERR_VERSION_MISMATCH


class Internal(Error):
    """DS_ERR_INTERNAL: a failure inside the library that no argument
    explains; also raised for a status code this package does not know."""

    default_status = DS_ERR_INTERNAL


class LibraryNotFound(Error, OSError):
    """libdeepscratch.so could not be loaded from any of the places the
    package looks in (the message lists them and what went wrong in each)."""

    default_status = None


_CLASSES = {
    DS_ERR_INVALID_ARGUMENT: InvalidArgument,
    DS_ERR_IO: FileError,
    DS_ERR_BAD_MODEL: BadModel,
    DS_ERR_BAD_IMAGE: BadImage,
    DS_ERR_VERSION_MISMATCH: VersionMismatch,
    DS_ERR_INTERNAL: Internal,
}


def error_for_status(status: int, message: str, filename: Optional[str] = None) -> Error:
    """The exception for a nonzero ``ds_status`` with the library's message.
    Unknown codes (a newer library's) become Internal with that status."""
    cls = _CLASSES.get(status, Internal)
    if not message:
        message = "libdeepscratch failed with %s" % STATUS_NAMES.get(status, "status %d" % status)
    if cls is FileError:
        return FileError(message, status, filename=filename)
    return cls(message, status)
