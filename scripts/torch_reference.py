# scripts/torch_reference.py: PyTorch trained with clmp train's recipe, for the accuracy tables
# of the README: Fashion-MNIST on the GPU (or CPU), batch 128 with the last partial batch dropped,
# AdamW (lr 1e-3, weight decay 0.01) with a per-step cosine schedule to 0, inputs standardised
# with the training set's mean and standard deviation, evaluation mode for the test accuracy;
# fp32, autocast fp16 + GradScaler, or autocast bf16. Prints one JSON line per run.
#   python3 scripts/torch_reference.py --model cnn --precision fp16 --seed 1 [--epochs 10]
import argparse
import gzip
import json
import math
import os
import struct
import time

import torch
from torch import nn

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(raw[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def split(folder, prefix):
    def find(kind, n):
        for ext in (".gz", ""):
            p = os.path.join(folder, f"{prefix}-{kind}-idx{n}-ubyte{ext}")
            if os.path.exists(p):
                return p
        raise FileNotFoundError(f"{prefix}-{kind} in {folder}")
    return read_idx(find("images", 3)), read_idx(find("labels", 1))


def model_of(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                             nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="cnn", choices=["mlp", "cnn"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--data", default=DATA)
    a = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(a.seed)
    xtr, ytr = split(a.data, "train")
    xte, yte = split(a.data, "t10k")
    mean, std = xtr.float().div(255).mean(), xtr.float().div(255).std()
    prep = lambda x: ((x.float().div(255) - mean) / std).unsqueeze(1).to(dev)
    xtr, ytr, xte, yte = prep(xtr), ytr.long().to(dev), prep(xte), yte.long().to(dev)
    model = model_of(a.model).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    steps_per_epoch = xtr.shape[0] // a.batch
    total = steps_per_epoch * a.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(a.precision)
    scaler = torch.cuda.amp.GradScaler() if a.precision == "fp16" else None
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(xtr.shape[0], device=dev)
        for s in range(steps_per_epoch):
            idx = perm[s * a.batch:(s + 1) * a.batch]
            with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            if scaler:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sched.step()
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
        for i in range(0, xte.shape[0], 1000):
            correct += (model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
    print(json.dumps({"torch": torch.__version__, "model": a.model, "precision": a.precision,
                      "seed": a.seed, "epochs": a.epochs, "test_accuracy": 100 * correct / xte.shape[0],
                      "seconds": time.time() - t0}))


if __name__ == "__main__":
    main()
