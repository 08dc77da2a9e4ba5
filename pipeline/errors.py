"""The exceptions Redline raises for users: what happened, the value found, what to do next."""


class RedlineError(Exception):
    """Base of every error meant for a user; the CLI prints its message as one line."""


class ConfigError(RedlineError, ValueError):
    """A configuration file (taxonomy, actors, training config) is malformed."""


class InputError(RedlineError, ValueError):
    """An input file or record cannot be read."""


class ModelError(RedlineError):
    """A model folder is missing, corrupt, or does not match the configured taxonomy."""


class StoreError(RedlineError):
    """The store cannot be opened or written (locked by another run, wrong schema)."""


class CorpusError(RedlineError, ValueError):
    """An annotated corpus breaks the schema of ANNOTATION.md."""


class TimelineError(RedlineError, ValueError):
    """A timeline, shift or export option is invalid (period, weights, format, output path)."""


def not_in_store(what: str, name: str, known) -> TimelineError:
    """The error for a name (`what`: "statements of", "positions on") the store has nothing for, listing
    the names it has, so that a misspelling is seen at once."""
    return TimelineError(f"no {what} '{name}' in the store; there: {', '.join(sorted(known)) or 'none'}")
