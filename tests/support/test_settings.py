"""The desk's settings come from the environment, and a provider name that is not one
is refused when the process starts, naming the variable."""

from tests.project.test_deploy_settings import run, settings_of


def test_the_provider_and_its_limits_come_from_the_environment():
    values = settings_of(
        ["LLM_PROVIDER", "LLM_BASE_URL", "LLM_MODEL", "LLM_TIMEOUT", "SUPPORT_DAILY_TOKEN_BUDGET"],
        DEBUG="1",
        LLM_PROVIDER="openai",
        LLM_BASE_URL="http://127.0.0.1:11434/v1",
        LLM_MODEL="llama3.2",
        LLM_TIMEOUT="12.5",
        SUPPORT_DAILY_TOKEN_BUDGET="5000",
    )
    defaults = settings_of(["LLM_PROVIDER"], DEBUG="1")

    assert values == {
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": "http://127.0.0.1:11434/v1",
        "LLM_MODEL": "llama3.2",
        "LLM_TIMEOUT": 12.5,
        "SUPPORT_DAILY_TOKEN_BUDGET": 5000,
    }
    assert defaults == {"LLM_PROVIDER": "sandbox"}  # no network unless asked


def test_an_unknown_provider_is_refused_at_start():
    done = run(["manage.py", "check"], DEBUG="1", LLM_PROVIDER="gpt")

    assert done.returncode != 0
    assert "LLM_PROVIDER='gpt'" in done.stderr
