"""The CLI's other commands and messages (the bad-input table is tests/test_bad_input.py)."""

from __future__ import annotations

from statgen.cli import main


def test_error_names_valid_choices(capsys):
    assert main(["generate", "--robot", "nope", "--n", "3"]) == 2
    err = capsys.readouterr().err
    assert "franka" in err and "jaco" in err


def test_robots_lists_each_robot_and_availability(capsys):
    assert main(["robots"]) == 0
    out = capsys.readouterr().out
    assert "franka" in out and "jaco" in out and "menagerie:franka_emika_panda" in out


def test_verify_on_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 2
    assert "not a statgen dataset" in capsys.readouterr().err


def test_verify_on_corrupted_dataset_json(tmp_path, capsys):
    (tmp_path / "dataset.json").write_text('{"schema": "statgen.dataset/1", "shards": [')
    assert main(["verify", str(tmp_path)]) == 1  # a finding of verify, not a user mistake
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "corrupted" in err
