# tools/clmp/bench_torch.py: the PyTorch references of `clmp bench --torch`. Embedded in the clmp
# program at build time and run as `python3 - [--quick]`; prints one JSON document on stdout.
# On CUDA when torch has it, else on the CPU: training images/s of the MLP 784-512-256-10 and of
# the CNN preset (batch 128, AdamW lr 1e-3, synthetic data resident on the device) in fp32,
# autocast fp16 + GradScaler (CUDA) and autocast bf16, eager; on CUDA also GradScaler.unscale_ + Adam(fused=True).step +
# GradScaler.update over 1e6, 1e7 and 1e8 fp32 parameters, ms per step.
import argparse
import contextlib
import json
import os
import sys
import time

SIZES = (784, 512, 256, 10)
BATCH = 128
LR = 1e-3
IMAGES, IMAGES_QUICK = 8192, 512
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's pixels in [0, 1]
WARMUP, CHUNK, SECONDS = 10, 16, 3.0
QUICK_WARMUP, QUICK_CHUNK = 1, 2
OPTIM_PARAMS = (1_000_000, 10_000_000, 100_000_000)
OPTIM_SAMPLES, OPTIM_SAMPLE_S = 5, 0.05


def sync(torch, device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def adamw(torch, params, cuda):
    """AdamW as clmp runs it (weight decay 0.01), fused where this torch has it."""
    if cuda:
        try:
            return torch.optim.AdamW(params, lr=LR, fused=True), "fused AdamW"
        except (TypeError, RuntimeError, ValueError):
            pass
    return torch.optim.AdamW(params, lr=LR), "AdamW"


def grad_scaler(torch):
    """torch.amp.GradScaler("cuda") where it exists (2.3+), else torch.cuda.amp's."""
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def mlp(torch, device):
    nn = torch.nn
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(nn.Linear(SIZES[i], SIZES[i + 1]))
        if i + 2 < len(SIZES):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(device)


def cnn(torch, device):
    """clmp's "cnn" preset."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10)).to(device)


MODELS = {"train": (mlp, (SIZES[0],)), "train_cnn": (cnn, (1, 28, 28))}


class Batches:
    """Minibatches gathered on the device from a shuffled index, a new shuffle every epoch."""

    def __init__(self, torch, device, n, shape):
        self.torch, self.device, self.n, self.shape = torch, device, n, shape
        self.x = torch.randint(0, 256, (n, SIZES[0]), device=device, dtype=torch.uint8)
        self.y = torch.randint(0, SIZES[-1], (n,), device=device)
        self.perm, self.pos = torch.randperm(n, device=device), 0

    def next(self):
        if self.pos + BATCH > self.n:
            self.perm, self.pos = self.torch.randperm(self.n, device=self.device), 0
        idx = self.perm[self.pos:self.pos + BATCH]
        self.pos += BATCH
        x = (self.x[idx].float() * (1.0 / 255.0) - MEAN) / STD
        return x.reshape(BATCH, *self.shape), self.y[idx]


def train_step(torch, model, opt, scaler, dtype, device, batch):
    x, y = batch
    cast = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
    with cast:
        loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()


def train_rate(torch, device, mode, quick, which="train"):
    """Images/s: a warm-up, then chunks of steps until SECONDS have passed (one with --quick)."""
    torch.manual_seed(1)
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mode)
    build, shape = MODELS[which]
    model = build(torch, device)
    opt, opt_name = adamw(torch, model.parameters(), device.type == "cuda")
    scaler = grad_scaler(torch) if mode == "fp16" else None
    data = Batches(torch, device, IMAGES_QUICK if quick else IMAGES, shape)
    for _ in range(QUICK_WARMUP if quick else WARMUP):
        train_step(torch, model, opt, scaler, dtype, device, data.next())
    sync(torch, device)
    steps, t0 = 0, time.perf_counter()
    while True:
        for _ in range(QUICK_CHUNK if quick else CHUNK):
            train_step(torch, model, opt, scaler, dtype, device, data.next())
            steps += 1
        sync(torch, device)
        dt = time.perf_counter() - t0
        if quick or dt >= SECONDS:
            break
    label = {"fp32": "fp32", "fp16": "autocast fp16 + GradScaler", "bf16": "autocast bf16"}[mode]
    return {"precision": mode, "label": f"torch {device.type} {label}, {opt_name}",
            "steps": steps, "seconds": dt, "images_per_s": steps * BATCH / dt}


def median_ms(torch, step):
    """Median over samples of back-to-back steps (after a warm-up), ms per step."""
    for _ in range(2):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    step()
    torch.cuda.synchronize()
    reps = max(1, int(OPTIM_SAMPLE_S / max(time.perf_counter() - t0, 1e-7)))
    times = []
    for _ in range(OPTIM_SAMPLES):
        t0 = time.perf_counter()
        for _ in range(reps):
            step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / reps * 1e3)
    return sorted(times)[len(times) // 2]


def optim_ms(torch, n):
    """GradScaler.unscale_ + Adam(fused=True).step + GradScaler.update on n fp32 parameters."""
    p = torch.nn.Parameter(torch.randn(n, device="cuda") * 0.01)
    p.grad = torch.randn(n, device="cuda")
    opt = torch.optim.Adam([p], lr=LR, fused=True)
    scaler = grad_scaler(torch)
    scaler.scale(torch.ones((), device="cuda"))  # creates the scale, as a training loop's first scale(loss) does

    def step():
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()

    ms = median_ms(torch, step)
    del p, opt
    torch.cuda.empty_cache()
    return {"params": n, "ms": ms,
            "label": "GradScaler.unscale_ + Adam(fused=True).step + GradScaler.update, fp32"}


def measure(doc, what, label, fn, *args):
    try:
        doc.setdefault(what, []).append(fn(*args))
    except Exception as e:  # a mode this torch lacks: noted, the others still run
        doc["errors"].append(f"{what} {label}: {type(e).__name__}: {e}")


def run(torch, quick):
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if not cuda:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    doc = {"torch_version": torch.__version__, "python": sys.version.split()[0],
           "device": device.type, "threads": torch.get_num_threads(), "errors": [],
           "device_name": torch.cuda.get_device_name(0) if cuda else "cpu", "train": [],
           "train_cnn": []}
    for which in MODELS:
        for mode in ("fp32", "fp16", "bf16") if cuda else ("fp32", "bf16"):
            measure(doc, which, mode, train_rate, torch, device, mode, quick, which)
    if cuda:
        for n in OPTIM_PARAMS[:1] if quick else OPTIM_PARAMS:
            measure(doc, "optim", n, optim_ms, torch, n)
    return doc


def main():
    ap = argparse.ArgumentParser(description="clmp bench's PyTorch references")
    ap.add_argument("--quick", action="store_true", help="a smoke run of seconds")
    args = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"error": f"PyTorch is not installed for {sys.executable}: {e}"}))
        return 3
    print(json.dumps(run(torch, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
