"""Errors a user can fix. The CLI prints them as one paragraph and exits with code 2."""


class UserError(Exception):
    """Bad input from the user: a flag, a config file, a data folder. Exit code 2, no traceback."""


class DatasetError(UserError):
    """A dataset file is missing, corrupt or not what it claims to be."""


class ConfigError(UserError):
    """An experiment config is invalid."""


class TrainingDiverged(UserError):
    """A fit's loss became NaN or infinite: a setting to change, and for a sweep the worst trial, not a failure."""


def did_you_mean(word: str, choices) -> str:
    """' Did you mean 'x'?' for the closest of `choices` to a mistyped `word` (case aside), else ''."""
    from difflib import get_close_matches

    by_lower = {str(c).lower(): c for c in choices}
    hint = get_close_matches(str(word).lower(), list(by_lower), n=1)
    return f" Did you mean {by_lower[hint[0]]!r}?" if hint else ""


def match_name(word: str, choices) -> str | None:
    """The one of `choices` that `word` names, exactly or ignoring case ("CNN-2" -> "cnn-2"); else None."""
    choices = list(choices)
    if word in choices:
        return word
    folded = [c for c in choices if c.lower() == str(word).lower()]
    return folded[0] if len(folded) == 1 else None


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """`warnings.formatwarning` for the CLI and its worker processes: one readable line, not Python's file:line form."""
    return f"fashionlab: warning: {message}\n"
