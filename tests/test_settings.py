"""Settings declared once (statgen.config.settings): the pipeline loader, the CLI's options, the
run identity and its inverse all come from the declarations; every mistake is reported at once."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line

from statgen.cli import main
from statgen.config import build_config, data_dir, load_pipeline, load_robot, load_task
from statgen.config.settings import FLAGS, SETTINGS, TOML_KEYS, GenerateConfig, complete_identity, config_from_identity, values_from_identity
from statgen.errors import ConfigError

FRANKA = (data_dir("robots") / "franka.toml").read_text()
TABLETOP = (data_dir("tasks") / "tabletop.toml").read_text()


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return repr(v)


def test_every_flag_is_a_generate_option(capsys):
    assert main(["generate", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in FLAGS:
        assert flag in out, flag
    # the flags that existed before the declarations keep their names
    for flag in ("--robot", "--n", "--out", "--seed", "--workers", "--shard-size", "--task", "--pipeline", "--cameras",
                 "--assets", "--address", "--resume", "--overwrite", "--quiet"):
        assert flag in FLAGS


def test_a_pipeline_with_every_declared_key_gives_the_default_identity(tmp_path):
    """Every declared TOML key is accepted by the loader, and flows to the same identity as the defaults."""
    sections: dict[str, list[str]] = {}
    for key, d in TOML_KEYS.items():
        sec, name = key.split(".")
        value = {"robot": "franka", "n": 10}.get(d.key, d.default)
        if value is not None:
            sections.setdefault(sec, []).append(f"{name} = {_toml(value)}")
    p = tmp_path / "every.toml"
    p.write_text("".join(f"[{sec}]\n" + "\n".join(lines) + "\n" for sec, lines in sections.items()))
    cfg = build_config(load_pipeline(str(p)))
    assert cfg.identity() == GenerateConfig(robot="franka", n=10).identity()


def test_identity_round_trips_through_values_from_identity():
    cfg = build_config({"robot": "franka", "n": 7, "seed": 3, "cameras": ("front", "wrist"), "render.multisample": 4,
                        "rosa_ranges": ((0, 1),) * 6 + ((0, 1),), "workers": 2, "out": "x"})
    identity = cfg.identity()
    assert "workers" not in identity and "out" not in identity and identity["render"]["multisample"] == 4
    again = build_config(values_from_identity({**identity, "schema": "statgen.sample/1"}))
    assert again.identity() == identity
    assert complete_identity(identity) == identity
    old = {k: v for k, v in identity.items() if k != "seg"}  # made before `seg` existed: its default
    assert complete_identity(old) == identity


@pytest.mark.parametrize("key,other", [("render.visual_max_error", 0.01), ("text_kinds", ("rosa",))])
def test_a_later_setting_at_its_default_leaves_older_identities_as_they_were(key, other):
    """A setting declared omit_default (top level or in a group) is absent from the identity at its default,
    present otherwise; an older identity (without it) stays complete as it is, and reads back at the default."""
    group, _, name = key.rpartition(".")

    def get(identity):
        return (identity.get(group, {}) if group else identity).get(name, "absent")

    assert SETTINGS[key].meta.omit_default
    default = build_config({"robot": "franka", "n": 5}).identity()
    changed = build_config({"robot": "franka", "n": 5, key: other}).identity()
    assert get(default) == "absent"
    assert json.loads(json.dumps(get(changed))) == json.loads(json.dumps(other))
    assert complete_identity(default) == default
    assert build_config(values_from_identity(default)).identity() == default


@pytest.mark.parametrize("key,legacy,default", [("randomize.level", "none", "full"), ("randomize.texture_size", 256, 128),
                                                ("randomize.floor_grid_m", 0.1, 0.4)])
def test_a_dataset_made_before_a_setting_existed_reads_back_with_what_it_was_made_with(key, legacy, default):
    """A run identity (dataset.json's config) without the key was made before the setting existed: it reads
    back with the value it was made with (Setting.legacy), not today's default, so verify re-renders it as made."""
    group, _, name = key.rpartition(".")
    identity = build_config({"robot": "franka", "n": 5}).identity()
    assert identity[group][name] == default
    old = json.loads(json.dumps(identity))
    del old[group][name]
    assert getattr(getattr(config_from_identity(old), group), name) == legacy
    assert complete_identity(old)[group][name] == legacy
    assert getattr(getattr(config_from_identity(identity), group), name) == default


def test_texture_size_is_a_power_of_two():
    assert build_config({"robot": "franka", "n": 5, "randomize.texture_size": 64}).randomize.texture_size == 64
    with pytest.raises(ConfigError, match=r"randomize.texture_size: expected a power of two, one of 32, 64, 128, 256, 512, 1024 px, got 100"):
        build_config({"robot": "franka", "n": 5, "randomize.texture_size": 100})


def test_identity_settings_are_the_documented_ones():
    not_identity = {k for k, d in SETTINGS.items() if not d.meta.identity}
    assert not_identity == {"out", "workers", "assets", "address", "resume", "progress", "pipeline", "overwrite"}


def test_several_flag_mistakes_are_one_line_listing_them_all(tmp_path, capsys):
    code = main(["generate", "--robot", "franka", "--n", "many", "--seed", "-1", "--cameras", "wrist", "--out", str(tmp_path / "o"), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    assert "3 problems" in line
    for piece in ("--n: expected an integer, got 'many'", "--seed: expected an integer in 0..2^63-1, got -1", "--cameras: expected a list that includes 'front'"):
        assert piece in line, line
    assert not (tmp_path / "o").exists()


def test_a_pipeline_with_several_mistakes_is_one_line_listing_them_all(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[pipeline]\nrobot = 'franka'\nn = 0\nsamples = 3\n[image]\nformat = 'bmp'\njpeg_quality = 101\n[pipelin]\nx = 1\n")
    with pytest.raises(ConfigError) as e:
        load_pipeline(str(p))
    msg = str(e.value)
    assert msg.startswith(f"{p}: 5 problems: (1) ") and "\n" not in msg
    for piece in ("pipeline.n: expected a positive integer", "unknown key 'samples'", "image.format: expected one of jpg, png, webp",
                  "image.jpeg_quality: expected 1..100", "unknown section [pipelin]"):
        assert piece in msg, msg


def test_a_robot_file_with_several_mistakes_is_one_line_listing_them_all(tmp_path):
    text = (FRANKA.replace('base_body = "link0"', "base_body = 7").replace("[tcp]", "[tcp]\ncolour = 1")
            .replace("max = [0.9, 0.6, 1.0]", "max = [0.9, -0.6, 1.0]"))
    p = tmp_path / "r.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_robot(str(p))
    msg = str(e.value)
    assert msg.startswith(f"{p}: 3 problems: ") and "\n" not in msg
    for piece in ("model.base_body: expected a non-empty string", "tcp: unknown key 'colour'", "workspace: expected min < max"):
        assert piece in msg, msg


def test_a_task_file_with_several_mistakes_is_one_line_listing_them_all(tmp_path):
    text = TABLETOP.replace("[table]", "[table]\nlegs = 3").replace("fovy_deg = 62.0", "fovy_deg = 200.0").replace('shape = "box"', 'shape = "cone"')
    p = tmp_path / "t.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_task(str(p))
    msg = str(e.value)
    assert msg.startswith(f"{p}: 3 problems: ") and "\n" not in msg
    for piece in ("table: unknown key 'legs'", "cameras.front.fovy_deg: expected 1..170 degrees", "props[0].shape: expected box, sphere or cylinder"):
        assert piece in msg, msg


def test_jpeg_subsampling_flows_from_flag_and_pipeline_to_the_identity(tmp_path, capsys):
    """One new setting, declared once: the TOML key, the flag, the check and the run identity."""
    assert GenerateConfig(robot="franka", n=1).identity()["jpeg_subsampling"] == "420"  # today's output
    p = tmp_path / "p.toml"
    p.write_text("[pipeline]\nrobot = 'franka'\nn = 4\n[image]\njpeg_subsampling = '444'\n")
    cfg = build_config(load_pipeline(str(p)))
    assert cfg.jpeg_subsampling == "444" and cfg.identity()["jpeg_subsampling"] == "444"
    assert build_config(load_pipeline(str(p)), flags={"jpeg_subsampling": "422"}).jpeg_subsampling == "422"  # the flag wins
    code = main(["generate", "--robot", "franka", "--n", "4", "--jpeg-subsampling", "411", "--out", str(tmp_path / "o"), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    assert "--jpeg-subsampling: expected one of 420, 422, 444, got '411'" in line
    p.write_text("[image]\njpeg_subsampling = 444\n")
    with pytest.raises(ConfigError, match="image.jpeg_subsampling: expected a non-empty string, got 444"):
        load_pipeline(str(p))


def test_resuming_a_run_made_before_a_setting_existed_keeps_what_it_was_made_with(tmp_path):
    """--resume --out DIR reads the run's flat values from _run/run.json: a setting the record lacks comes back
    with its legacy value (a run from before randomisation resumes at level none, 256 px textures, the task's
    floor grid), so the
    new shards match the old ones and the identity check agrees."""
    from statgen.run.identity import RUN_JSON, config_of_run

    identity = build_config({"robot": "franka", "n": 5}).identity()
    old = json.loads(json.dumps(identity))
    del old["randomize"]["level"], old["randomize"]["texture_size"], old["randomize"]["floor_grid_m"]
    (tmp_path / RUN_JSON).parent.mkdir(parents=True)
    (tmp_path / RUN_JSON).write_text(json.dumps({"identity": {"config": old}, "config_source": {"robot": "franka"}}))
    values = config_of_run(str(tmp_path))
    cfg = build_config({**values, "out": str(tmp_path)})
    assert (cfg.randomize.level, cfg.randomize.texture_size, cfg.randomize.floor_grid_m) == ("none", 256, 0.1)
    assert cfg.identity() == complete_identity(old)
