"""What the fixture generators share: running a tool, writing under Fixtures/, and the source photos.

Imported by make_fixtures.py and make_animations.py (Python puts the script's own folder on sys.path)."""

import atexit
import os
import shutil
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(*cmd, **kw):
    """Runs a tool (arguments made strings), failing the generator when it fails."""
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def out(rel):
    """The path of `rel` under Fixtures/, its folder created."""
    p = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def wallpaper_root():
    """The unpacked mate-backgrounds package: MW_WALLPAPER_ROOT (default /tmp/wall) when it holds the photos,
    else fetched with apt-get download into a temporary folder removed at exit."""
    root = os.environ.get("MW_WALLPAPER_ROOT", "/tmp/wall")
    probe = "usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg"
    if os.path.exists(os.path.join(root, probe)):
        return root
    tmp = tempfile.mkdtemp(prefix="mw-wall-")
    atexit.register(shutil.rmtree, tmp, True)
    print("source photos missing; fetching mate-backgrounds into", tmp)
    run("apt-get", "download", "mate-backgrounds", cwd=tmp)
    deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
    run("dpkg", "-x", os.path.join(tmp, deb), os.path.join(tmp, "root"))
    return os.path.join(tmp, "root")
