"""PyTorch yardstick on the same GPU as ours: the GEMMs of a DiT training step and the step itself.

Runs on a machine with PyTorch and a CUDA GPU (the device machine of tools/device). Prints Markdown tables:
  1. torch.matmul on the products `ilgpu-diffusion bench --gemm` times (each Linear's forward, input gradient and weight
     gradient, the output head), in fp32, TF32 and BF16 (inputs in BF16, fp32 accumulation);
  2. scaled_dot_product_attention on one layer's attention (`ilgpu-diffusion bench --attention`), forward and backward,
     bidirectional: BF16 on the flash backend, and fp32 inputs on the memory-efficient backend (TF32 allowed, which that
     kernel may or may not use);
  3. one MDLM training step of the DiT of docs/algorithms.md §1.2 (rotary, adaLN, GELU-tanh MLP, no bias LayerNorm),
     the output head on the masked rows only as ours computes it, SUBS NELBO weighted 1/t, AdamW: eager and
     torch.compile, BF16 autocast with scaled_dot_product_attention;
  4. with --sample, instead: the ancestral sampler of docs/algorithms.md §3.1 at each step count, as
     `ilgpu-diffusion bench` times ours (from all MASK, a trunk pass per step, the head and a categorical draw on the
     positions the step reveals, argmax for any left at the end), eager, BF16 autocast, random weights.

    python3 bench/torch/dit_step.py --preset small --batch 8 --length 1024
    python3 bench/torch/dit_step.py --preset small --batch 32 --length 1024 --sample 8,16,32 --runs 3
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {  # layers, hidden, heads, cond width (docs/algorithms.md §1.4)
    "tiny": (4, 256, 4, 128),
    "small": (12, 768, 12, 128),
    "medium": (24, 1024, 16, 128),
    "large": (24, 1536, 16, 128),
}
VOCAB, MASK = 50258, 50257
# Our output head runs the vocabulary padded to a multiple of 64 (DitConfig.PaddedVocab), and `bench --gemm` times its
# products at that width; the GEMM table uses it too, so both sides time the same products. The training step below
# keeps MDLM's unpadded head, as the released model has it.
PADDED_VOCAB = (VOCAB + 63) // 64 * 64


def gemm_shapes(hidden, vocab, tokens):
    """(name, layout, m, n, k) of every product of a training step, as GemmThroughput.TrainingShapes lists them."""
    shapes = []
    for name, inc, outc in [("qkv", hidden, 3 * hidden), ("attention out", hidden, hidden), ("mlp up", hidden, 4 * hidden),
                            ("mlp down", 4 * hidden, hidden), ("head", hidden, vocab)]:
        shapes.append((f"{name} forward", "ABt", tokens, outc, inc))
        shapes.append((f"{name} input gradient", "AB", tokens, inc, outc))
        shapes.append((f"{name} weight gradient", "AtB", outc, inc, tokens))
    return shapes


def time_cuda(fn, runs):
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(runs):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / runs  # ms


def bench_gemms(hidden, tokens, runs):
    print(f"\ntorch.matmul on the GEMMs of a training step, D {hidden}, {tokens} token rows, {torch.cuda.get_device_name()}:\n")
    print("| product | layout | M × N × K | fp32 ms | fp32 TFLOP/s | tf32 ms | tf32 TFLOP/s | bf16 ms | bf16 TFLOP/s |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    totals = {p: [0.0, 0.0] for p in ("fp32", "tf32", "bf16")}
    for name, layout, m, n, k in gemm_shapes(hidden, PADDED_VOCAB, tokens):
        row = f"| {name} | {layout} | {m} × {n} × {k} |"
        for precision in ("fp32", "tf32", "bf16"):
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            a = torch.randn((k, m) if layout == "AtB" else (m, k), device="cuda", dtype=dtype)
            b = torch.randn((n, k) if layout == "ABt" else (k, n), device="cuda", dtype=dtype)
            op_a = a.t() if layout == "AtB" else a
            op_b = b.t() if layout == "ABt" else b
            ms = time_cuda(lambda: torch.matmul(op_a, op_b), runs)
            flops = 2.0 * m * n * k
            totals[precision][0] += ms
            totals[precision][1] += flops
            row += f" {ms:.3f} | {flops / ms / 1e9:.1f} |"
            del a, b
        print(row)
    print("| **all** | | |" + "".join(f" {t[0]:.3f} | {t[1] / t[0] / 1e9:.1f} |" for t in totals.values()))
    torch.backends.cuda.matmul.allow_tf32 = False


class Block(nn.Module):
    def __init__(self, hidden, heads, cond, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1 = nn.Parameter(torch.ones(hidden))
        self.attn_qkv = nn.Linear(hidden, 3 * hidden, bias=False)
        self.attn_out = nn.Linear(hidden, hidden, bias=False)
        self.norm2 = nn.Parameter(torch.ones(hidden))
        self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(approximate="tanh"), nn.Linear(4 * hidden, hidden))
        self.ada = nn.Linear(cond, 6 * hidden)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x, c, cos, sin):
        b, l, d = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c)[:, None].chunk(6, dim=2)
        with torch.autocast("cuda", enabled=False):
            h = F.layer_norm(x.float(), [d]) * self.norm1
        h = h * (1 + sc1) + sh1
        q, k, v = self.attn_qkv(h).view(b, l, 3, self.heads, d // self.heads).unbind(2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + g1 * F.dropout(self.attn_out(o.transpose(1, 2).reshape(b, l, d)), self.dropout, self.training)
        with torch.autocast("cuda", enabled=False):
            h = F.layer_norm(x.float(), [d]) * self.norm2
        h = h * (1 + sc2) + sh2
        return x + g2 * F.dropout(self.mlp(h), self.dropout, self.training)


def rotate(u, cos, sin):
    """Rotate-half rotary embedding on [B, L, H, d] (docs/algorithms.md §1.3)."""
    half = u.shape[-1] // 2
    u1, u2 = u[..., :half], u[..., half:]
    return torch.cat((u1 * cos - u2 * sin, u1 * sin + u2 * cos), dim=-1).to(u.dtype)


class Dit(nn.Module):
    def __init__(self, layers, hidden, heads, cond, length, dropout=0.1):
        super().__init__()
        self.vocab_embed = nn.Parameter(torch.empty(VOCAB, hidden).uniform_(-1 / math.sqrt(hidden), 1 / math.sqrt(hidden)))
        self.sigma_map = nn.Sequential(nn.Linear(256, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.blocks = nn.ModuleList([Block(hidden, heads, cond, dropout) for _ in range(layers)])
        self.norm_final = nn.Parameter(torch.ones(hidden))
        self.ada_final = nn.Linear(cond, 2 * hidden)
        self.head = nn.Linear(hidden, VOCAB)
        for zero in (self.ada_final.weight, self.ada_final.bias, self.head.weight, self.head.bias):
            nn.init.zeros_(zero)
        d = hidden // heads
        inv = 1.0 / (10000 ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inv)  # [L, d/2]
        self.register_buffer("cos", angles.cos()[None, :, None, :], persistent=False)
        self.register_buffer("sin", angles.sin()[None, :, None, :], persistent=False)

    def forward(self, ids, masked):
        b = ids.shape[0]
        temb = torch.cat([torch.ones(b, 128, device=ids.device), torch.zeros(b, 128, device=ids.device)], dim=1)  # σ = 0
        c = F.silu(self.sigma_map(temb))
        x = self.vocab_embed[ids]
        for block in self.blocks:
            x = block(x, c, self.cos, self.sin)
        shift, scale = self.ada_final(c)[:, None].chunk(2, dim=2)
        with torch.autocast("cuda", enabled=False):
            h = F.layer_norm(x.float(), [x.shape[-1]]) * self.norm_final
        h = h * (1 + scale) + shift
        return self.head(h[masked])  # the head on the masked rows only, as ours computes it


def nelbo(model, ids, t):
    masked = torch.rand(ids.shape, device=ids.device) < (1 - 1e-3) * t[:, None]
    noisy = torch.where(masked, torch.full_like(ids, MASK), ids)
    logits = model(noisy, masked).float()
    logits[:, MASK] -= 1e6
    nll = F.cross_entropy(logits, ids[masked], reduction="none")
    weight = (1 / t)[:, None].expand_as(ids)[masked]
    return (nll * weight).sum() / ids.numel()


def bench_step(preset, batch, length, runs, compile_too):
    layers, hidden, heads, cond = PRESETS[preset]
    model = Dit(layers, hidden, heads, cond, length).cuda()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0, fused=True)
    ids = torch.randint(0, MASK, (batch, length), device="cuda")
    t = (torch.rand(1, device="cuda") + torch.arange(batch, device="cuda") / batch) % 1 * (1 - 1e-3) + 1e-3
    params = sum(p.numel() for p in model.parameters())
    print(f"\nOne MDLM training step, {preset} ({params / 1e6:.1f} M), B {batch} × L {length}, BF16 autocast, "
          f"SDPA, AdamW (fused), {torch.cuda.get_device_name()}:\n")
    print("| mode | ms/step | tokens/s |")
    print("|---|---:|---:|")
    variants = [("eager", model)]
    if compile_too:
        variants.append(("torch.compile", torch.compile(model)))
    for name, runner in variants:
        def step():
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = nelbo(runner, ids, t)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        started = time.time()
        ms = time_cuda(step, runs)
        print(f"| {name} | {ms:.1f} | {batch * length / ms * 1000:,.0f} |  ", end="")
        print(f"<!-- {time.time() - started:.0f} s with warm-up -->")


def bench_sampling(preset, batch, length, step_counts, runs, epsilon=1e-5):
    """B sequences of L tokens from all MASK in N steps: t_i = 1 − i·Δt, Δt = (1 − ε)/N, a masked position revealed with
    probability Δt/t_i (docs/algorithms.md §3.1), its token drawn from the softmax of its logits without MASK."""
    layers, hidden, heads, cond = PRESETS[preset]
    model = Dit(layers, hidden, heads, cond, length, dropout=0.0).cuda().eval()
    with torch.no_grad():
        for parameter in model.parameters():  # random weights: the zero-initialized head would give uniform logits
            parameter.normal_(0.0, 0.02)
    params = sum(p.numel() for p in model.parameters())
    print(f"\nThe ancestral sampler, {preset} ({params / 1e6:.1f} M), B {batch} × L {length}, eager, BF16 autocast, SDPA, "
          f"{torch.cuda.get_device_name()}, mean of {runs} run(s) after 2 warm-ups:\n")
    print("| steps | s/run | tokens/s |")
    print("|---:|---:|---:|")

    @torch.no_grad()
    def generate(steps):
        ids = torch.full((batch, length), MASK, device="cuda")
        masked = torch.ones((batch, length), dtype=torch.bool, device="cuda")
        dt = (1 - epsilon) / steps
        for i in range(steps + 1):  # step N is the noise removal: argmax where a mask is left
            last = i == steps
            reveal = masked if last else masked & (torch.rand((batch, length), device="cuda") < min(1.0, dt / (1 - i * dt)))
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(ids, reveal).float()  # the head on the revealed rows only, as ours computes it
            if logits.shape[0] == 0:
                continue
            logits[:, MASK] = -math.inf
            drawn = logits.argmax(-1) if last else torch.multinomial(torch.softmax(logits, -1), 1).squeeze(1)
            ids[reveal] = drawn
            masked &= ~reveal
        return ids

    for steps in step_counts:
        ms = time_cuda(lambda: generate(steps), runs)
        print(f"| {steps} | {ms / 1000:.3f} | {batch * length / ms * 1000:,.0f} |")


def bench_attention(heads, head_dim, batch, length, runs):
    forward_flops = 4.0 * batch * heads * length * length * head_dim
    print(f"\nscaled_dot_product_attention, B {batch} × H {heads} × L {length} × d {head_dim}, bidirectional, "
          f"{torch.cuda.get_device_name()}:\n")
    print("| precision | backend | forward ms | forward TFLOP/s | backward ms | backward TFLOP/s | fwd+bwd TFLOP/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    from torch.nn.attention import SDPBackend, sdpa_kernel
    for precision, dtype, backend in (("bf16", torch.bfloat16, SDPBackend.FLASH_ATTENTION),
                                      ("fp32 (tf32 allowed)", torch.float32, SDPBackend.EFFICIENT_ATTENTION)):
        torch.backends.cuda.matmul.allow_tf32 = dtype == torch.float32
        q, k, v = (torch.randn(batch, heads, length, head_dim, device="cuda", dtype=dtype, requires_grad=True)
                   for _ in range(3))
        grad = torch.randn(batch, heads, length, head_dim, device="cuda", dtype=dtype)
        with sdpa_kernel(backend):
            forward_ms = time_cuda(lambda: F.scaled_dot_product_attention(q, k, v), runs)
            output = F.scaled_dot_product_attention(q, k, v)
            backward_ms = time_cuda(lambda: torch.autograd.grad(output, (q, k, v), grad, retain_graph=True), runs)
        total = forward_flops * 3.5 / (forward_ms + backward_ms) / 1e9
        print(f"| {precision} | {backend.name.lower()} | {forward_ms:.3f} | {forward_flops / forward_ms / 1e9:.1f} | "
              f"{backward_ms:.3f} | {2.5 * forward_flops / backward_ms / 1e9:.1f} | {total:.1f} |")
    torch.backends.cuda.matmul.allow_tf32 = False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", choices=PRESETS)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile step (it compiles for minutes)")
    parser.add_argument("--skip-gemms", action="store_true")
    parser.add_argument("--attention", action="store_true", help="time scaled_dot_product_attention only, then stop")
    parser.add_argument("--sample", metavar="N,N,...", help="time the sampler at these step counts only, then stop")
    args = parser.parse_args()
    print(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}")
    if args.sample:
        bench_sampling(args.preset, args.batch, args.length, [int(n) for n in args.sample.split(",")], args.runs)
        return
    if args.attention:
        _, hidden, heads, _ = PRESETS[args.preset]
        bench_attention(heads, hidden // heads, args.batch, args.length, args.runs)
        return
    if not args.skip_gemms:
        bench_gemms(PRESETS[args.preset][1], args.batch * args.length, args.runs)
    bench_step(args.preset, args.batch, args.length, args.runs, not args.no_compile)


if __name__ == "__main__":
    main()
