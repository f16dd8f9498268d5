"""Errors a user can cause and fix. Entry scripts print their message alone, without a traceback."""


class UserError(Exception):
    """A mistake in the user's config, data or files; the message names the thing and the fix."""


class ConfigError(UserError):
    """A config value is out of range or inconsistent (names the key)."""


class DataError(UserError):
    """A dataset folder, image or manifest is missing or broken (names the path)."""


class CheckpointError(UserError):
    """A checkpoint is missing, truncated, or does not fit the requested model."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; usually a learning rate too high for AlexNet."""
