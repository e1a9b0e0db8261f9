"""One offscreen renderer per process (two alive at once under EGL render noise).

Headless rendering needs MUJOCO_GL=egl (or osmesa) before mujoco is imported; importing
statgen sets ``MUJOCO_GL=egl`` when it is unset, and a backend that cannot render is one line
(statgen.sim.gl). On a machine with an NVIDIA GPU, EGL
uses it; choose the device with MUJOCO_EGL_DEVICE_ID.
"""

from __future__ import annotations

import io

import mujoco
import numpy as np

from statgen.config import RenderSettings
from statgen.sim.gl import context_error, require_rendering
from statgen.sim.scene import SEG_GRIPPER, SEG_ROBOT, Scene

DEPTH_MAX_MM = 65535


class CameraRenderer:
    """Renders RGB (and optionally z-depth and robot/gripper segmentation) for a scene's cameras."""

    def __init__(self, scene: Scene, *, render: RenderSettings, depth: bool = False, seg: bool = False):
        c = scene.task.camera(scene.cameras[0])
        self.scene, self.width, self.height = scene, c.width, c.height
        require_rendering()
        try:
            self.renderer = mujoco.Renderer(scene.model, height=c.height, width=c.width)
        except ValueError as e:
            if "framebuffer" in str(e):  # the size, not the GL backend
                raise
            raise context_error(e) from None
        except Exception as e:  # noqa: BLE001 - whatever the backend raises when it cannot make a context
            raise context_error(e) from None
        flags = self.renderer.scene.flags
        flags[mujoco.mjtRndFlag.mjRND_SHADOW] = int(render.shadows)
        flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = int(render.reflections)
        self.depth, self.seg = depth, seg
        # Segmentation class per geom: 0 background, 1 robot, 2 gripper.
        ix = scene.index
        self.geom_class = np.where(ix.gripper_geoms, SEG_GRIPPER, np.where(ix.robot_geoms, SEG_ROBOT, 0)).astype(np.uint8)
        m = scene.model
        self.far_m = float(m.vis.map.zfar * m.stat.extent)
        # Randomisation's textures are sampled without mipmaps (GL_LINEAR): llvmpipe's default trilinear
        # filter costs ~8% of a frame with textured surfaces (README, "Randomisation"). The robot's own
        # textures keep MuJoCo's filter.
        self.linear_textures = tuple(i for i in range(m.ntex) if (m.texture(i).name or "").startswith("statgen/"))
        for i in self.linear_textures:
            self._linear(i)
        self.uploads = 0

    def _linear(self, tex_id: int) -> None:
        from OpenGL import GL

        self.renderer._gl_context.make_current()
        GL.glBindTexture(GL.GL_TEXTURE_2D, int(self.renderer._mjr_context.texture[tex_id]))
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)

    def upload_texture(self, tex_id: int) -> None:
        """Send a 2D texture's tex_data to the GL context (after the model's pixels changed), then set its
        filter again (mjr_uploadTexture resets it to trilinear)."""
        self.renderer._gl_context.make_current()
        mujoco.mjr_uploadTexture(self.scene.model, self.renderer._mjr_context, tex_id)
        self._linear(tex_id)
        self.uploads += 1

    def render(self, data: mujoco.MjData, camera: str) -> dict[str, np.ndarray]:
        """{'rgb': (H, W, 3) uint8, 'depth': (H, W) uint16 mm, 'seg': (H, W) uint8} for one camera."""
        r = self.renderer
        r.update_scene(data, camera=camera)
        out = {"rgb": r.render().copy()}
        if self.depth:
            r.enable_depth_rendering()
            z = r.render()
            r.disable_depth_rendering()
            mm = np.where(z >= self.far_m * 0.999, 0.0, np.round(z * 1000.0))
            out["depth"] = np.clip(mm, 0, DEPTH_MAX_MM).astype(np.uint16)
        if self.seg:
            out["seg"] = self.segmentation()
        return out

    def segmentation(self) -> np.ndarray:
        """Class mask of the scene last updated: 0 background, 1 robot, 2 gripper."""
        r = self.renderer
        r.enable_segmentation_rendering()
        ids = r.render()
        r.disable_segmentation_rendering()
        objid, objtype = ids[..., 0], ids[..., 1]
        is_geom = (objtype == int(mujoco.mjtObj.mjOBJ_GEOM)) & (objid >= 0)
        cls = np.zeros(objid.shape, dtype=np.uint8)
        cls[is_geom] = self.geom_class[objid[is_geom]]
        return cls

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None

    def __enter__(self) -> "CameraRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def encode_image(img: np.ndarray, *, fmt: str, quality: int = 90, subsampling: str = "420") -> bytes:
    """RGB (H, W, 3) uint8 → jpg/png/webp bytes; 2-D uint8/uint16 → PNG. subsampling: a JPEG's
    chroma subsampling, "420", "422" or "444"."""
    if fmt == "jpg" and img.ndim == 3:
        import simplejpeg  # libjpeg-turbo straight from the array: about 3x less overhead than PIL here

        return simplejpeg.encode_jpeg(np.ascontiguousarray(img), quality=quality, colorspace="RGB", colorsubsampling=subsampling)
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(img)
    if fmt == "jpg":
        im.save(buf, format="JPEG", quality=quality)
    elif fmt == "webp":
        im.save(buf, format="WEBP", quality=quality)
    else:
        im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def gl_renderer_name(renderer) -> str:
    """GL_RENDERER of the renderer's context, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)'."""
    if renderer is None:
        return ""
    try:
        from OpenGL import GL

        renderer.renderer._gl_context.make_current()
        name = GL.glGetString(GL.GL_RENDERER)
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
