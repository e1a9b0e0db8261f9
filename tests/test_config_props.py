"""Property-based: whatever values the config fields take, statgen either accepts them or
raises ConfigError with one line; it never crashes with another exception."""

from __future__ import annotations

import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statgen.config import GenerateConfig, build_config, data_dir, load_pipeline, load_robot, load_task
from statgen.errors import ConfigError

ANY = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.lists(st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.text(max_size=4)), max_size=8),
)
FIELDS = ["robot", "n", "task", "seed", "shard_size", "cameras", "image_format", "jpeg_quality", "depth", "seg",
          "require_visible", "max_draws_per_sample", "workers", "render.shadows", "render.multisample", "render.visual_reduction"]
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPS
@given(st.dictionaries(st.sampled_from(FIELDS), ANY, max_size=6))
def test_build_config_accepts_or_says_why(overrides):
    values = {"robot": "franka", "n": 10, **overrides}
    try:
        cfg = build_config(dict(values))
    except ConfigError as e:
        assert "\n" not in str(e) and str(e)
        return
    except (TypeError, ValueError) as e:  # a value of the wrong type reached a dataclass/comparison
        raise AssertionError(f"not a ConfigError for {values}: {type(e).__name__}: {e}") from e
    assert isinstance(cfg, GenerateConfig) and 1 <= cfg.n <= 10**9 and cfg.shard_size >= 1 and "front" in cfg.cameras


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml_value(x) for x in v) + "]"


TOML_ANY = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False), st.text(alphabet="abcxyz_/", max_size=6),
                     st.lists(st.floats(-1, 1, allow_nan=False), max_size=4))
ROBOT_KEYS = [("model", "base_body"), ("tcp", "pos"), ("arm", "joints"), ("gripper", "open"), ("gripper", "closed"),
              ("workspace", "min"), ("workspace", "max"), ("rosa", "ranges"), ("gripper", "fingertips"), ("model", "source"), ("tcp", "colour")]


@PROPS
@given(st.sampled_from(ROBOT_KEYS), TOML_ANY)
def test_robot_toml_mutations_are_config_errors(tmp_path_factory, key, value):
    text = (data_dir("robots") / "franka.toml").read_text()
    section, field = key
    header = f"[{section}]\n"
    lines = [ln for ln in text.split(header, 1)[1].split("\n[")[0].splitlines() if ln.startswith(field + " ")]
    body = text.split(header, 1)[1]
    if lines:
        body = body.replace(lines[0], f"{field} = {_toml_value(value)}", 1)
    else:
        body = f"{field} = {_toml_value(value)}\n" + body
    mutated = text.split(header, 1)[0] + header + body
    try:
        tomllib.loads(mutated)
    except tomllib.TOMLDecodeError:
        return
    p = tmp_path_factory.mktemp("robot") / "r.toml"
    p.write_text(mutated)
    try:
        load_robot(str(p))
    except ConfigError as e:
        assert "\n" not in str(e)


def test_shipped_files_load():
    for name in ("franka", "jaco"):
        assert load_robot(name).name == name
    assert load_task("tabletop").camera("front").width == 224
    assert load_pipeline("franka_tabletop")["robot"] == "franka"
