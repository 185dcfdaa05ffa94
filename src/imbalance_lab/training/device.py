"""Where and how fast to run: device, threads, bf16 autocast."""

from __future__ import annotations

import logging
import os
import platform

import torch


def cpu_has_amx() -> bool:
    """True when the CPU has AMX tiles for bf16 matrix work (Sapphire Rapids and later)."""
    try:
        with open("/proc/cpuinfo") as f:
            return "amx_bf16" in f.read()
    except OSError:
        return False


def machine(device: torch.device, bf16: bool) -> dict:
    """What a run ran on, for its result: CPU model, cores, threads, device, precision, torch."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(),
            "amx": cpu_has_amx(), "device": gpu or device.type, "bf16": bf16,
            "torch": torch.__version__}  # fmt: skip


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from imbalance_lab.errors import ConfigError

        raise ConfigError("--device cuda was asked for, but no CUDA device is available")
    return torch.device(name)


def use_bf16(setting: bool | None, device: torch.device) -> bool:
    # bf16 autocast pays off only with hardware bf16 matmul. On a CPU with AVX512-BF16
    # but no AMX it was slower than fp32 here (837 vs 941 img/s, article ConvNet,
    # batch 64), so "auto" turns it on for AMX CPUs and CUDA only.
    if setting is not None:
        return setting
    return device.type == "cuda" or cpu_has_amx()


def set_threads(threads: int | None) -> int:
    """Fix the intra-op thread count of this process (two runs on 2 cores must split them)."""
    n = threads or int(os.environ.get("IMBALANCE_LAB_THREADS", 0)) or (os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


class CompiledStep:
    """The model's training forward, through ``torch.compile`` when asked.

    Only full batches of ``batch_size`` go through the compiled graph, so a run
    compiles once; the last, smaller batch of an epoch and every evaluation run
    the eager module, which shares the compiled one's parameters and buffers.
    When compiling fails (no C++ compiler, say), ``warn`` says so once and the
    run goes on eagerly: the result is the same model, only slower.
    """

    def __init__(self, model: torch.nn.Module, enabled: bool, batch_size: int, warn=print):
        self.model, self.batch_size, self.warn = model, batch_size, warn
        self.compiled, self.ran = None, False
        if enabled:
            # Inductor warns on CPU-only builds that it found no CUDA runtime: true, and no concern.
            logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
            self.compiled = torch.compile(model)
            from torch._dynamo.exc import BackendCompilerFailed
            from torch._inductor.exc import InductorError

            self.failures = (BackendCompilerFailed, InductorError)

    def compiles_on(self, x: torch.Tensor) -> bool:
        """Whether calling with ``x`` compiles first (tens of seconds): worth telling the user."""
        return self.compiled is not None and not self.ran and len(x) == self.batch_size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is None or len(x) != self.batch_size:
            return self.model(x)
        self.ran = True
        try:
            return self.compiled(x)
        except self.failures as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.warn(f"warning: torch.compile failed ({first}); training without it")
            self.compiled = None
            return self.model(x)
