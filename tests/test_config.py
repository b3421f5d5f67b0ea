from __future__ import annotations

import pytest

from proxy.config import ConfigError, default_config_path, load_config


def test_repo_config_toml_is_valid_and_documents_defaults():
    config = load_config(default_config_path(), environ={})
    assert config.server.port == 8080 and config.server.host == "127.0.0.1"
    assert config.model.backend == "embedded"


def test_env_overrides_are_typed():
    config = load_config(environ={"ATLAS_SERVER_PORT": "9001",
                                  "ATLAS_SERVER_API_KEYS": '["a", "b"]',
                                  "ATLAS_EMBEDDED_MODEL": "/models/x.gguf",
                                  "ATLAS_PIPELINE_K": "5"})
    assert config.server.port == 9001
    assert config.server.api_keys == ["a", "b"]
    assert config.embedded.model == "/models/x.gguf"
    assert config.pipeline.k == 5


def test_flags_win_over_env():
    config = load_config(environ={"ATLAS_SERVER_PORT": "9001"},
                         overrides={"server": {"port": 9002}})
    assert config.server.port == 9002


@pytest.mark.parametrize("environ, key", [
    ({"ATLAS_SERVER_PORT": "eighty"}, "server.port"),
    ({"ATLAS_SERVER_PROT": "1"}, "prot"),
    ({"ATLAS_NOSECTION_X": "1"}, "ATLAS_NOSECTION_X"),
    ({"ATLAS_MODEL_BACKEND": "cloud"}, "model.backend"),
])
def test_invalid_config_names_the_key(environ, key):
    with pytest.raises(ConfigError) as info:
        load_config(environ=environ)
    assert key in str(info.value)


def test_invalid_file_names_the_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 'x'\n")
    with pytest.raises(ConfigError, match="server.port"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})


def test_config_toml_documents_every_key_with_its_default():
    import tomllib

    import msgspec

    from proxy.config import Config

    data = tomllib.loads(default_config_path().read_text())
    defaults = msgspec.to_builtins(Config())
    for section, values in defaults.items():
        documented = data.get(section, {})
        missing = set(values) - set(documented)
        assert not missing, f"[{section}] lacks {sorted(missing)}"
        for key, value in values.items():
            expected = list(value) if isinstance(value, tuple) else value
            assert documented[key] == expected, f"{section}.{key}: {documented[key]} != {value}"
