"""Only the C extension lives here; everything else about the package is in pyproject.toml.

The extension is optional: where it cannot be compiled (no C compiler), datakeep runs the numpy
code it mirrors, which gives the same results, only slower (see datakeep/native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "datakeep._native",
            ["datakeep/_native.c"],
            optional=True,
            extra_compile_args=["-O3", "-std=c99", "-ffp-contract=off"],
        )
    ]
)
