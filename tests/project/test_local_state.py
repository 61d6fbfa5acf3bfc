"""The embedded defaults' folders are made when Django starts, not when the settings are read."""

import subprocess
import sys

from django.conf import settings


def test_reading_the_settings_makes_no_folder_and_starting_django_makes_them(tmp_path):
    state = tmp_path / "state"
    env = {"ORDERFLOW_VAR_DIR": str(state), "DEBUG": "1", "PATH": "/usr/bin:/bin"}
    read_only = "import project.settings as s; print(s.VAR_DIR)"
    started = "import django; django.setup()"

    subprocess.run([sys.executable, "-c", read_only], cwd=settings.BASE_DIR, env=env, check=True)
    assert not state.exists()
    subprocess.run(
        [sys.executable, "-c", started],
        cwd=settings.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "project.settings"},
        check=True,
    )
    assert sorted(str(p.relative_to(state)) for p in state.rglob("*") if p.is_dir()) == [
        "broker",
        "broker/control",
        "broker/processed",
        "broker/queue",
    ]
