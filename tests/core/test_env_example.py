from pathlib import Path

from app.core.config import Settings


def test_env_example_lists_every_setting(project_root: Path):
    lines = (project_root / ".env.example").read_text().splitlines()
    listed = {line.split("=", 1)[0].lower() for line in lines if "=" in line and line[0] != "#"}

    assert listed == set(Settings.model_fields)
