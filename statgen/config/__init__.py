"""Configuration by concern: TOML files (files), validation (check), the robot, the task, and the
pipeline/run settings. The public names are re-exported here."""

from statgen.config.check import Problems, check
from statgen.config.files import available, data_dir, find_toml, read_toml
from statgen.config.robot import (
    Attachment,
    Coupling,
    Framing,
    GripperModel,
    ModelRef,
    Point,
    Pose,
    RobotRender,
    RobotSpec,
    WristCamera,
    load_robot,
    resolve_render,
    robot_from_dict,
)
from statgen.config.settings import GenerateConfig, RenderSettings, build_config, load_pipeline
from statgen.config.task import CameraSpec, Prop, TaskSpec, load_task, task_from_dict
from statgen.errors import ConfigError

__all__ = [
    "Attachment", "CameraSpec", "Coupling", "Framing", "GripperModel", "Pose", "RobotRender", "ConfigError", "GenerateConfig", "ModelRef", "Point", "Problems", "Prop", "RenderSettings", "RobotSpec",
    "TaskSpec", "WristCamera", "available", "build_config", "check", "data_dir", "find_toml", "load_pipeline", "load_robot",
    "load_task", "read_toml", "resolve_render", "robot_from_dict", "task_from_dict",
]
