"""Errors a user can fix. The CLI prints them as one paragraph and exits with code 2."""


class UserError(Exception):
    """Bad input from the user: a flag, a config file, a data folder. Exit code 2, no traceback."""


class DatasetError(UserError):
    """A dataset file is missing, corrupt or not what it claims to be."""


class ConfigError(UserError):
    """An experiment config is invalid."""


def did_you_mean(word: str, choices) -> str:
    """' Did you mean 'x'?' for the closest of `choices` to a mistyped `word`, else ''."""
    from difflib import get_close_matches

    hint = get_close_matches(word, list(choices), n=1)
    return f" Did you mean {hint[0]!r}?" if hint else ""
