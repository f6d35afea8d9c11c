"""Wheel tags: a wheel that bundles deepscratch/_lib/libdeepscratch.so (an
x86-64 Linux library, `make -C examples wheel`) is a platform wheel tagged
py3-none-<platform> (py3-none-linux_x86_64: any Python 3, no Python ABI, this
platform); without the library the package is pure Python (py3-none-any).
Everything else is in pyproject.toml."""

import os

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1 (pyproject asks for 77)

BUNDLED = os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "deepscratch", "_lib",
                                      "libdeepscratch.so"))


class PlatformDistribution(Distribution):
    """A distribution with a native library inside: installed to platlib,
    and its wheel is not pure."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        python, abi, platform = super().get_tag()
        # The library is called through ctypes: no Python ABI is involved.
        return ("py3", "none", platform) if BUNDLED else (python, abi, platform)


setup(cmdclass={"bdist_wheel": PlatformWheel}, distclass=PlatformDistribution if BUNDLED else Distribution)
