"""setuptools → CMake: builds the extension tollgate._core and lays out the package.

Takes: this source tree; the environment variables TOLLGATE_CMAKE_ARGS (extra CMake arguments, e.g.
-DCMAKE_CXX_COMPILER_LAUNCHER=ccache or -DTOLLGATE_NATIVE=ON) and TOLLGATE_CMAKE_BUILD_DIR (an
already configured build tree to build _core in, as is — how the test suite installs without
rebuilding). Gives: the tollgate package (python/tollgate/*.py, _core, _paths.py) with the reference
model's files under tollgate/models/retnet, so the installed package needs no source tree.
Used by `pip install --no-build-isolation .`; nothing is downloaded."""
import os
import pathlib
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent
MODEL_FILES = ("model.safetensors", "tokenizer.json", "tokenizer_config.json")


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        given = os.environ.get("TOLLGATE_CMAKE_BUILD_DIR")
        build_dir = pathlib.Path(given) if given else ROOT / "build" / f"pip-py{sys.version_info[0]}{sys.version_info[1]}"
        if not given:
            args = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release",
                    f"-DPython_EXECUTABLE={sys.executable}", "-DTOLLGATE_BUILD_TESTS=OFF",
                    "-DTOLLGATE_BUILD_BENCH=OFF", "-DTOLLGATE_BUILD_CLI=OFF", "-DTOLLGATE_INSTALL=OFF"]
            args += shlex.split(os.environ.get("TOLLGATE_CMAKE_ARGS", ""))
            subprocess.check_call(args)
        jobs = str(os.cpu_count() or 2)
        subprocess.check_call(["cmake", "--build", str(build_dir), "-j", jobs, "--target", "_core", "python_package"])

        built = build_dir / "python" / "tollgate"
        ext_path = pathlib.Path(self.get_ext_fullpath(ext.name))
        pkg = ext_path.parent
        pkg.mkdir(parents=True, exist_ok=True)
        core = sorted(built.glob("_core*.so"))
        if not core:
            raise RuntimeError(f"no _core module in {built}")
        shutil.copyfile(core[-1], ext_path)
        # The installed package finds the model beside itself; the data: TOLLGATE_DATA_DIR, ../shared
        # of this source tree as configured, or the user cache (tollgate/_data.py).
        models = pkg / "models" / "retnet"
        models.mkdir(parents=True, exist_ok=True)
        for f in MODEL_FILES:
            shutil.copyfile(ROOT / "models" / "retnet" / f, models / f)
        data = (built / "_paths.py").read_text().split("DATA_DIR = ", 1)[1].strip()
        (pkg / "_paths.py").write_text(
            "import os\n\nMODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models', 'retnet')\n"
            f"DATA_DIR = {data}\n")


setup(ext_modules=[Extension("tollgate._core", sources=[])], cmdclass={"build_ext": CMakeBuild})
