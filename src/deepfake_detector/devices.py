"""Which device the work runs on: params.compute's names (auto, cpu, gpu) -> torch devices and ONNX Runtime
providers. `auto` is a GPU when one is there, so one params.yaml serves CPU and GPU machines alike."""

from __future__ import annotations

import os

from deepfake_detector.logs import UserError

ONNX_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")  # preferred first


def torch_device(name: str, key: str = "compute.detect_device") -> str:
    """'auto' | 'cpu' | 'gpu' (params.yaml's `key`) -> 'cuda' or 'cpu'; 'gpu' on a machine without one is an
    error that says so."""
    import torch

    has_gpu = torch.cuda.is_available()
    if name == "gpu" and not has_gpu:
        raise UserError(f"{key} is gpu, but torch sees no CUDA GPU here: set it to auto or cpu")
    return "cuda" if name == "gpu" or (name == "auto" and has_gpu) else "cpu"


def pin_threads(threads: int) -> None:
    """compute.threads (or detect_threads): this process's torch threads, unless 0 (torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def usable_cores() -> int:
    """The CPU cores this process may run on (a container's or taskset's share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def onnx_providers() -> list[str]:
    """ONNX Runtime's providers in preference order, of those installed (onnxruntime-gpu adds CUDA)."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    return [p for p in ONNX_PROVIDERS if p in available]
