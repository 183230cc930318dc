"""Errors a user can cause. The CLI prints them as one line and exits 2."""


class DganError(Exception):
    """A problem the user must fix (bad file, wrong option, mismatched cache...)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message on one line, with control characters from users' files shown escaped."""
        from dgan_cli.untrusted import escape

        line = f"{self.message} ({self.hint})" if self.hint else self.message
        return escape(line.replace("\n", " "))


class CacheFormatError(DganError):
    """An HDF5 file that is not a dgan cache, or not a complete/compatible one."""


class CheckpointError(DganError):
    """A checkpoint that is corrupt, unknown, unsafe or inconsistent."""


class PluginError(DganError):
    """An unknown component name, or two plugins claiming the same name."""
