# tests/test_checkpoint_torch.py: the README's PyTorch loader, taken from README.md as it stands,
# loads a clmp checkpoint of a model of every layer kind with load_state_dict(strict=True), and
# the loaded module, in evaluation mode, classifies the test split as clmp's own evaluation did
# (fp32 on the reference device: the same predictions but for near-ties, at most MAX_DIFFER
# examples). Exits 77 (skipped) where PyTorch is not installed.
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

SKIP = 77
TRAIN_N, TEST_N, SIDE, CLASSES = 256, 200, 28, 10
MAX_DIFFER = 1
SPEC = {"input": [1, SIDE, SIDE], "layers": [
    {"type": "conv2d", "out": 6, "kernel": 3, "padding": 1},
    {"type": "batchnorm"}, {"type": "gelu"}, {"type": "maxpool2d", "kernel": 2},
    {"type": "residual", "body": [
        {"type": "conv2d", "name": "conv1", "out": 8, "kernel": 3, "stride": 2, "padding": 1,
         "bias": False},
        {"type": "batchnorm", "name": "bn1"}, {"type": "relu"},
        {"type": "conv2d", "name": "conv2", "out": 8, "kernel": [3, 1], "padding": [1, 0],
         "dilation": 1, "groups": 2}],
     "shortcut": [{"type": "avgpool2d", "kernel": 2},
                  {"type": "conv2d", "out": 8, "kernel": 1}]},
    {"type": "relu"}, {"type": "dropout", "p": 0.2},
    {"type": "sequential", "layers": [{"type": "conv2d", "out": 12, "kernel": 3, "padding": 2,
                                       "dilation": 2}]},
    {"type": "globalavgpool"}, {"type": "flatten"},
    {"type": "linear", "out": 16}, {"type": "batchnorm"}, {"type": "relu"},
    {"type": "linear", "out": CLASSES}]}


np = None  # numpy, imported in main() so that its absence skips the test


def write_idx(path, data):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, data.ndim]))
        for d in data.shape:
            f.write(struct.pack(">I", d))
        f.write(data.astype(np.uint8).tobytes())


def make_split(folder, prefix, n, rng):
    """Class c: a bright block at a class-specific place, on noise."""
    labels = rng.integers(0, CLASSES, n)
    images = rng.integers(0, 60, (n, SIDE, SIDE))
    for i, c in enumerate(labels):
        r, k = 3 + (c // 5) * 12, 2 + (c % 5) * 5
        images[i, r:r + 6, k:k + 4] = 230
    write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), images)
    write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), labels)
    return images, labels


def readme_loader(readme):
    """The README's snippet, reading path instead of run.safetensors."""
    text = open(readme, encoding="utf-8").read()
    code = re.search(r"A checkpoint loads into PyTorch without clmp.*?```python\n(.*?)```", text,
                     re.S).group(1)
    return code.replace('"run.safetensors"', "path")


def main():
    global np
    try:
        import numpy as np
        import torch
    except ImportError as e:
        print(f"skipped: {e}")
        return SKIP
    clmp, readme = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as d:
        make_split(d, "train", TRAIN_N, rng)
        images, labels = make_split(d, "t10k", TEST_N, rng)
        path = os.path.join(d, "ck.safetensors")
        run = subprocess.run([clmp, "train", "--device", "ref", "--data", d, "--precision", "fp32",
                              "--model", json.dumps(SPEC), "--batch", "32", "--epochs", "6", "--lr", "5e-3",
                              "--checkpoint", path, "--json"], capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout, run.stderr)
            return 1
        accuracy = json.loads(run.stdout)["test_accuracy"]
        scope = {"path": path}
        exec(readme_loader(readme), scope)
        model, meta, spec = scope["model"], scope["meta"], scope["spec"]
        x = torch.tensor(images, dtype=torch.float32) * float(meta["input_scale"]) + \
            float(meta["input_shift"])
        with torch.no_grad():
            pred = model(x.reshape(TEST_N, *spec["input"])).argmax(1).numpy()
    correct = int((pred == labels).sum())
    want = round(accuracy * TEST_N / 100)
    print(f"clmp: {want} of {TEST_N} right; the module loaded in PyTorch {torch.__version__}: "
          f"{correct}")
    print(model)
    return 0 if abs(correct - want) <= MAX_DIFFER else 1


if __name__ == "__main__":
    sys.exit(main())
