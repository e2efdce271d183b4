"""Build script for the optional C accelerator of the SIP parser.

Everything else is declared in pyproject.toml. ``websip.sip._speedups`` is
optional: when it cannot be compiled (no C compiler, no Python headers) the
build goes on without it and websip uses its pure-Python parser, which gives
the same results (see src/websip/sip/_speedups.c).
"""

from __future__ import annotations

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class optional_build_ext(build_ext):
    """build_ext that warns instead of failing when the accelerator does not compile."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # setuptools/distutils raise several error types
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._skip(exc)

    def _skip(self, exc: Exception) -> None:
        if os.environ.get("WEBSIP_REQUIRE_SPEEDUPS"):
            raise exc
        print(f"warning: websip.sip._speedups not built ({exc}); using the pure-Python parser")


setup(
    ext_modules=[
        Extension(
            "websip.sip._speedups",
            sources=["src/websip/sip/_speedups.c"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": optional_build_ext},
)
