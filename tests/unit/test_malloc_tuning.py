"""glibc malloc thresholds: raised once by the first classifier, unless opted out."""

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the tuning applies to glibc only")

SCRIPT = ("from md_orderml.malloc_tuning import keep_freed_buffers as k; "
          "a = k(); b = k(); print(a, b)")


CLEARED = ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MD_ORDERML_MALLOC")


def run(extra_env):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(extra_env)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_thresholds_are_raised_once():
    assert run({}) == ["True", "True"]


@pytest.mark.parametrize("env", [{"MD_ORDERML_MALLOC": "default"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"},
                                 {"MALLOC_MMAP_THRESHOLD_": "65536"}])
def test_opt_out_and_user_settings_are_respected(env):
    assert run(env) == ["False", "False"]


def test_classifier_applies_it(tmp_path):
    script = ("import md_orderml.malloc_tuning as m; from md_orderml.analysis import OrderML; "
              "assert m._state is None; OrderML('default'); print(m._state)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k not in CLEARED})
    assert out.stdout.split()[-1] == "True"
