"""One root exception, two kinds: the user's mistake (exit 2) and a failure while running (exit 1)."""

from __future__ import annotations


class StatgenError(Exception):
    """Root of every error statgen raises on purpose. The message is one line."""

    exit_code = 1


class ConfigError(StatgenError):
    """A user mistake: a bad flag, a bad config file, a refused resume. Exit code 2."""

    exit_code = 2


class RunError(StatgenError):
    """A failure while running: storage, rendering, a worker that died. Exit code 1."""

    exit_code = 1


class VerifyError(StatgenError):
    """`statgen verify` found problems. Exit code 1."""

    exit_code = 1


# Errors of the user's input raised below the config layer. Each is a ConfigError (exit 2, one
# line); each is also a ValueError, as it was before it joined this family, so that code which
# catches ValueError around these functions keeps working.


class GeometryError(ConfigError, ValueError):
    """A pose that cannot be built: a camera looking at its own position, or along its up direction."""


class ModelError(ConfigError, ValueError):
    """A robot model statgen cannot read: a mesh file it cannot parse or simplify, an <include> it cannot follow."""


class StorePathError(ConfigError, ValueError):
    """A path that would leave its dataset's folder or prefix ('.', '..', '//')."""



class Interrupted(StatgenError):
    """`generate` was stopped by SIGINT (Ctrl-C) or SIGTERM. Exit code 128 + the signal number:
    130 for SIGINT, 143 for SIGTERM (the shell's convention for a process a signal ended)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
