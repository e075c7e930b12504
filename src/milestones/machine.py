"""What produced a result: the machine, the library versions, the git commit."""
from __future__ import annotations

import os
import platform
import subprocess
import warnings
from pathlib import Path

import torch


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_features() -> list[str]:
    """The vector extensions that decide how fast torch runs on this CPU, as torch detects them:
    "AMD EPYC" names both a Zen 3 with AVX2 only and a Zen 4 with AVX-512 and bfloat16 dot
    products, and the Connect Four search in bfloat16 runs 6.6× slower than in compiled float32 on
    the first and faster on the second (benchmarks/mcts_speed.avx2.cpu.json, mcts_speed.cpu.json)."""
    checks = (("avx2", "_is_avx2_supported"), ("avx512", "_is_avx512_supported"), ("vnni", "_is_vnni_supported"),
              ("avx512_bf16", "_is_avx512_bf16_supported"), ("amx", "_is_amx_tile_supported"))
    return [name for name, check in checks if getattr(torch.cpu, check, lambda: False)()]


def has_bfloat16_products() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX-512 BF16 or AMX); without, oneDNN
    emulates it and bfloat16 runs slower than float32."""
    return bool({"avx512_bf16", "amx"} & set(cpu_features()))


def warn_if_bfloat16_is_slow(option: str, device: torch.device | str = "cpu") -> None:
    """A warning when `option` asks for bfloat16 products on a CPU that has none in hardware."""
    if torch.device(device).type == "cpu" and not has_bfloat16_products():
        warnings.warn(f"{option}: this CPU ({cpu_model()}; {', '.join(cpu_features()) or 'no AVX2'}) has no "
                      f"bfloat16 dot products (AVX-512 BF16 or AMX), so bfloat16 runs emulated, slower than "
                      f"float32 (6.6× for the Connect Four search on an AVX2-only EPYC); float32 is the "
                      f"faster choice here", RuntimeWarning, stacklevel=3)


def machine_info(device: str = "cpu") -> dict[str, object]:
    info: dict[str, object] = {
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "device": device,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    return info


def git_commit(where: Path | None = None) -> str | None:
    """The commit of the source tree (suffixed '-dirty' with uncommitted changes), or None."""
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=where, text=True,
                                capture_output=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               text=True, capture_output=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if dirty else "")


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
    return torch.device(device)
