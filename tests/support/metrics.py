"""Reading Prometheus text in tests."""

import re


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample, 0 when absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line) or re.fullmatch(
            rf"{name} (\S+)", line
        )
        if not match:
            continue
        if len(match.groups()) == 1 and not labels:
            return float(match.group(1))
        if len(match.groups()) == 2:
            found = ",".join(sorted(match.group(1).split(",")))
            if found == wanted:
                return float(match.group(2))
    return 0.0
