"""User-facing errors: the CLI prints them as one message and exits with code 2."""


class PersonalibError(Exception):
    """An error caused by input the user can fix; the message says what and how."""


class ConfigError(PersonalibError):
    """A params/profile/persona file is invalid (message names file, field and value)."""


class SourceMissingError(PersonalibError):
    """A data source is not available locally and cannot be downloaded."""


class StoreError(PersonalibError):
    """The generation store cannot be read or written as asked."""
