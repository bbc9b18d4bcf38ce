from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from survey.config import (
    EXAMPLE_CONFIG,
    Config,
    ConfigError,
    load_config,
    load_config_text,
    load_section,
    to_toml,
)


def test_defaults_when_no_file() -> None:
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.general.seed == 0 and cfg.general.device == "auto"


def test_file_overrides_defaults(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[general]\nseed = 42\nthreads = 2\n")
    cfg = load_config(p)
    assert (cfg.general.seed, cfg.general.threads, cfg.general.device) == (42, 2, "auto")


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("[general]\nsede = 1\n")
    with pytest.raises(ConfigError) as ei:
        load_config(p)
    msg = str(ei.value)
    assert str(p) in msg and "general.sede" in msg and "unknown key" in msg and "seed" in msg


def test_unknown_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"x.toml, nosuch: unknown key"):
        load_config_text("[nosuch]\na = 1\n", source="x.toml")


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ('[general]\nseed = "7"\n', "general.seed", "expected int, got str"),
        ("[general]\nseed = 7.5\n", "general.seed", "expected int, got float"),
        ("[general]\nseed = true\n", "general.seed", "expected int, got bool"),
        ('[general]\ndevice = "tpu"\n', "general.device", "expected one of 'auto', 'cpu', 'cuda'"),
        ("general = 3\n", "general", "expected a table"),
    ],
)
def test_wrong_types_name_the_key(text: str, where: str, expected: str) -> None:
    with pytest.raises(ConfigError) as ei:
        load_config_text(text, source="f.toml")
    assert ei.value.where == where and ei.value.path == "f.toml"
    assert expected in str(ei.value)


def test_invalid_toml_names_file() -> None:
    with pytest.raises(ConfigError, match=r"^y.toml: not valid TOML"):
        load_config_text("[general\n", source="y.toml")


def test_missing_file_is_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml")


def test_round_trip_through_toml() -> None:
    cfg = dataclasses.replace(Config(), general=dataclasses.replace(Config().general, seed=9))
    assert load_config_text(to_toml(cfg)) == cfg


def test_example_file_documents_every_default() -> None:
    """The shipped example is exactly the defaults, with a comment on every key."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert text == to_toml(Config()), "regenerate with: survey config example > " + str(
        EXAMPLE_CONFIG
    )
    assert load_config(EXAMPLE_CONFIG) == Config()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            assert lines[i - 1].startswith("#"), f"key without a comment: {line}"


@dataclasses.dataclass(frozen=True)
class _Inner:
    ratio: float = 0.5
    names: list[str] = dataclasses.field(default_factory=list)
    pair: tuple[int, int] = (1, 2)
    maybe: Path | None = None


@dataclasses.dataclass(frozen=True)
class _Outer:
    inner: _Inner = dataclasses.field(default_factory=_Inner)


def test_load_section_types() -> None:
    got = load_section(
        _Outer,
        {"inner": {"ratio": 2, "names": ["a", "b"], "pair": [3, 4], "maybe": "/x"}},
        source="s",
    )
    assert got.inner == _Inner(ratio=2.0, names=["a", "b"], pair=(3, 4), maybe=Path("/x"))
    assert isinstance(got.inner.ratio, float)
    with pytest.raises(ConfigError, match=r"inner.names\[1\]: expected str, got int"):
        load_section(_Outer, {"inner": {"names": ["a", 1]}}, source="s")
    with pytest.raises(ConfigError, match="expected a list of 2 items, got 3"):
        load_section(_Outer, {"inner": {"pair": [1, 2, 3]}}, source="s")


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("[review]\nport = 70000\n", "review.port", "<= 65535, got 70000"),
        ("[review]\nport = -1\n", "review.port", ">= 0 and <= 65535, got -1"),
        ("[pipeline]\nworkers = -3\n", "pipeline.workers", ">= 0, got -3"),
        ("[telemetry]\nmax_gap_s = -1\n", "telemetry.max_gap_s", "> 0, got -1"),
        ("[telemetry]\nmax_speed_mps = nan\n", "telemetry.max_speed_mps", "finite number, got nan"),
        ("[telemetry]\nmax_speed_mps = inf\n", "telemetry.max_speed_mps", "finite number, got inf"),
        ("[process]\nemissivity = 5.0\n", "process.emissivity", "<= 1, got 5"),
    ],
)
def test_out_of_range_values_name_file_and_key(text: str, where: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as e:
        load_config_text(text, source="site.toml")
    assert e.value.where == where and e.value.path == "site.toml"


def test_edges_of_the_ranges_are_accepted() -> None:
    c = load_config_text("[review]\nport = 65535\n[process]\nemissivity = 1.0\n")
    assert c.review.port == 65535 and c.process.emissivity == 1.0
    assert load_config_text("[review]\nport = 0\n").review.port == 0


def test_a_config_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_bytes(b'[review]\nreviewer = "J\xf6rg"\n')  # Latin-1, not UTF-8
    with pytest.raises(ConfigError, match="not UTF-8 text") as e:
        load_config(p)
    assert e.value.where == "line 2" and e.value.path == str(p)


def test_log_file_in_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from survey.cli import cli

    r = CliRunner().invoke(cli, ["--log-file", str(tmp_path / "no" / "x.log"), "config", "show"])
    assert r.exit_code == 2 and "cannot write the log file" in r.output and r.exception is not None
    assert not isinstance(r.exception, OSError)
