"""How big each scenario is: the full benchmark of issue #5, or the CI smoke run."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024
GIB = 1024 * MIB


@dataclass(frozen=True)
class Profile:
    """Sizes, counts and rounds of one benchmark run."""

    name: str
    rounds: int
    warmup: int
    single_file: int  # scenario 1
    catalog_models: int  # scenario 2
    catalog_files: int
    catalog_file_size: int
    catalog_concurrency: int
    curl_parallel: int
    noop_models: int  # scenario 3
    noop_hf_rounds: int
    startup_repeats: int  # scenario 4
    memory_files: int  # scenario 5
    memory_file_size: int
    memory_small: int
    memory_large: int
    resume_file: int  # scenario 6
    resume_trickle: tuple[int, float] | None
    scale_models: int  # scenario 7
    scale_repeats: int


FULL = Profile(
    name="full",
    rounds=5,
    warmup=1,
    single_file=GIB,
    catalog_models=8,
    catalog_files=4,
    catalog_file_size=64 * MIB,
    catalog_concurrency=4,
    curl_parallel=8,
    noop_models=100,
    noop_hf_rounds=1,
    startup_repeats=10,
    memory_files=8,
    memory_file_size=512 * MIB,
    memory_small=256 * MIB,
    memory_large=4 * GIB,
    resume_file=GIB,
    resume_trickle=None,
    scale_models=10_000,
    scale_repeats=3,
)

# Tiny files, one round, no warm-up: every scenario and contender runs, numbers mean nothing.
SMOKE = Profile(
    name="smoke",
    rounds=1,
    warmup=0,
    single_file=2 * MIB,
    catalog_models=2,
    catalog_files=2,
    catalog_file_size=MIB,
    catalog_concurrency=2,
    curl_parallel=2,
    noop_models=4,
    noop_hf_rounds=1,
    startup_repeats=1,
    memory_files=2,
    memory_file_size=MIB,
    memory_small=MIB,
    memory_large=2 * MIB,
    resume_file=4 * MIB,
    resume_trickle=(128 * 1024, 0.02),
    scale_models=200,
    scale_repeats=1,
)

PROFILES = {profile.name: profile for profile in (FULL, SMOKE)}
