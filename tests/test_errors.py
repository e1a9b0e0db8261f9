"""One error family: every error statgen raises for the user derives from StatgenError, with its exit code."""

from __future__ import annotations

import numpy as np
import pytest

from statgen import errors
from statgen.core.geometry import look_at_R
from statgen.errors import ConfigError, GeometryError, ModelError, StatgenError, StorePathError
from statgen.sim.meshes import simplify_mesh
from statgen.storage.fs import Store


def test_every_error_class_is_a_statgen_error_with_its_exit_code():
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, BaseException)]
    assert all(issubclass(c, StatgenError) for c in classes), classes
    codes = {c.__name__: c.exit_code for c in classes if c is not errors.Interrupted}
    assert codes == {"StatgenError": 1, "ConfigError": 2, "RunError": 1, "VerifyError": 1, "GeometryError": 2, "ModelError": 2, "StorePathError": 2}


@pytest.mark.parametrize("call,cls,needle", [
    (lambda: look_at_R(eye=np.zeros(3), target=np.zeros(3)), GeometryError, "expected eye != target"),
    (lambda: look_at_R(eye=np.zeros(3), target=np.array([0.0, 0.0, 1.0])), GeometryError, "not parallel to up"),
    (lambda: Store.open("/tmp/x").exists("../etc/passwd"), StorePathError, "bad path"),
    (lambda: simplify_mesh(b"nonsense", filename="part.dae", target_reduction=0.5), ModelError, "ending in .obj or .stl"),
    (lambda: simplify_mesh(b"v 0 0 0\n", filename="part.obj", target_reduction=0.5), ModelError, "expected"),
])
def test_user_facing_errors_below_the_config_layer(call, cls, needle):
    with pytest.raises(cls, match=needle) as e:
        call()
    assert isinstance(e.value, ConfigError) and e.value.exit_code == 2 and "\n" not in str(e.value)
    assert isinstance(e.value, ValueError)  # what these raised before they joined the family
