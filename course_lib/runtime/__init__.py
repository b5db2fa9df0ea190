"""Where the course runs: profile, device, precision, threads, seeds and the reproducibility stamp.

Every notebook starts with ``rt = runtime.setup(PROFILE, SEED)``. The returned :class:`Runtime` carries the chosen
:class:`Profile` (all budgets: steps, batch sizes, sequence lengths) so no notebook hard-codes one, plus the device
and precision every later step uses.

This module imports torch only inside functions, so the command-line tools can read the profile table quickly.

One concern per module; every name is used as ``course_lib.runtime.<name>``, re-exported below:

* ``profiles``: :class:`Profile`, ``PROFILES`` (the one table), ``DEFAULT_DECODER``, ``PROFILE_ENV``,
  :func:`get_profile`, :func:`auto_profile_name`, :func:`resolve_profile`
* ``hardware``: :func:`cuda_capability`, :func:`cpu_supports_bf16`, :func:`bf16_matmul_is_faster`,
  :func:`choose_precision`, ``PRECISION_ENV``, :func:`default_threads`, :func:`attention_implementation`,
  :func:`frozen_weights_in_bf16`, :func:`compiled_training_pays`, ``COMPILE_ENV``
* ``seeds``: :func:`seed_everything`
* ``stamp``: :func:`package_versions`, :func:`git_commit`
* ``session``: :class:`Runtime` and :func:`setup`

A test that replaces a function for a caller patches it where the caller looks it up: code outside the package
calls ``runtime.<name>``; inside it, :func:`setup` looks its helpers up in ``course_lib.runtime.session``
(``cuda_capability``, ``choose_precision``, ...), and :func:`choose_precision` looks ``cpu_supports_bf16`` and
``bf16_matmul_is_faster`` up in ``course_lib.runtime.hardware``.
"""

from .hardware import (COMPILE_ENV, MATMUL_FLAGS, PRECISION_ENV, attention_implementation, bf16_matmul_is_faster,
                       choose_precision, compiled_training_pays, cpu_features, cpu_supports_bf16, cuda_capability,
                       default_threads, frozen_weights_in_bf16)
from .profiles import (DEFAULT_DECODER, PROFILE_ENV, PROFILES, Profile, auto_profile_name, get_profile,
                       resolve_profile)
from .seeds import seed_everything
from .session import Runtime, setup
from .stamp import git_commit, package_versions

__all__ = [
    "COMPILE_ENV", "DEFAULT_DECODER", "MATMUL_FLAGS", "PRECISION_ENV", "PROFILES", "PROFILE_ENV",
    "Profile", "Runtime",
    "attention_implementation", "auto_profile_name", "bf16_matmul_is_faster", "choose_precision",
    "compiled_training_pays", "cpu_features", "cpu_supports_bf16", "cuda_capability",
    "default_threads", "frozen_weights_in_bf16", "get_profile", "git_commit", "package_versions", "resolve_profile", "seed_everything", "setup",
]
