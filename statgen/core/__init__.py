"""Pure math: rotations, poses, camera projection, ROSA binning, text. No I/O, no MuJoCo state."""
