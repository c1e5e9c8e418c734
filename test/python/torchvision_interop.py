#!/usr/bin/python3
"""Weight interchange between medrobust and real torchvision models (used by
test/torchvision-interop.test.ts; docs/weights.md shows the same steps as short snippets).

  export --arch resnet18 --classes 2 --channels 1 --size 28 --stem small --seed 0 --out DIR
      Builds the torchvision model, randomises batch-norm statistics and affine parameters (so
      batch-norm folding is exercised), and writes DIR/state.safetensors (the state_dict),
      DIR/input.safetensors (`x`: NHWC float32 in [0, 1], batch 3) and DIR/logits.safetensors
      (`logits`: the torchvision model's output on the normalised NCHW input).

  check --arch resnet18 --classes 2 --channels 1 --size 28 --stem small --dir DIR
      Loads DIR/model.safetensors (written by medrobust) into a fresh torchvision model with
      load_state_dict(strict=True), runs it on DIR/input.safetensors and prints {"logits": [...]}.
      Preprocessing (mean, std) comes from DIR/model.json when present.

Needs only torch, torchvision and numpy: safetensors is read and written by hand below, equivalent
to the `safetensors` package's load_file/save_file for these dtypes.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from torch import nn

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def save_safetensors(tensors, path):
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        array = tensor.detach().cpu().contiguous().numpy()  # keeps 0-d shapes (np.ascontiguousarray would not)
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": NAMES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length].decode("utf-8"))
    data, out = raw[8 + length :], {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
        out[name] = torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=True))
    return out


class SmallCnn(nn.Module):
    """medrobust's small-cnn: 3 × ([conv3×3 → BN → ReLU] × 2 → max-pool 2×2), 32/64/128 channels."""

    def __init__(self, channels, classes, width=1.0):
        super().__init__()
        layers, previous = [], channels
        for base in (32, 64, 128):
            planes = max(1, round(base * width))
            for _ in range(2):
                layers += [nn.Conv2d(previous, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU()]
                previous = planes
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(previous, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def build(args):
    if args.arch == "small-cnn":
        model = SmallCnn(args.channels, args.classes, args.width)
    else:
        model = resnet(args)
    if args.head == "paper":
        model.fc = nn.Sequential(nn.Linear(model.fc.in_features, 128), nn.Dropout(0.2), nn.Linear(128, args.classes))
    return model


def resnet(args):
    if args.width != 1:
        raise SystemExit("--width is supported for small-cnn only (torchvision ResNets have no width multiplier)")
    model = getattr(torchvision.models, args.arch)(num_classes=args.classes)
    stem = args.stem or ("small" if args.size <= 32 else "imagenet")
    if stem == "small":
        model.conv1 = nn.Conv2d(args.channels, 64, 3, 1, 1, bias=False)
        model.maxpool = nn.Identity()
    elif args.channels != 3:
        model.conv1 = nn.Conv2d(args.channels, 64, 7, 2, 3, bias=False)
    return model


def run(model, x_nhwc, mean, std):
    """medrobust models normalise inside; torchvision models take the normalised NCHW tensor."""
    x = x_nhwc.permute(0, 3, 1, 2)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        return model(x)


def export(args):
    torch.manual_seed(args.seed)
    model = build(args)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
                module.num_batches_tracked.fill_(args.seed + 3)
    model.eval()
    x = torch.rand(3, args.size, args.size, args.channels, dtype=torch.float32)
    logits = run(model, x, args.mean or [0.5] * args.channels, args.std or [0.5] * args.channels)
    os.makedirs(args.out, exist_ok=True)
    save_safetensors(model.state_dict(), os.path.join(args.out, "state.safetensors"))
    save_safetensors({"x": x}, os.path.join(args.out, "input.safetensors"))
    save_safetensors({"logits": logits}, os.path.join(args.out, "logits.safetensors"))


def check(args):
    model = build(args)
    model.load_state_dict(load_safetensors(os.path.join(args.dir, "model.safetensors")), strict=True)
    model.eval()
    mean, std = args.mean or [0.5] * args.channels, args.std or [0.5] * args.channels
    manifest_path = os.path.join(args.dir, "model.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            preprocessing = json.load(f)["preprocessing"]
        mean, std = preprocessing["mean"], preprocessing["std"]
    x = load_safetensors(os.path.join(args.dir, "input.safetensors"))["x"].float()
    json.dump({"logits": run(model, x, mean, std).tolist()}, sys.stdout)
    sys.stdout.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["export", "check"])
    parser.add_argument("--arch", required=True, choices=["resnet18", "resnet34", "resnet50", "small-cnn"])
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--channels", type=int, default=1, choices=[1, 3])
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--stem", choices=["small", "imagenet"])
    parser.add_argument("--head", choices=["linear", "paper"], default="linear")
    parser.add_argument("--width", type=float, default=1.0, help="small-cnn only")
    parser.add_argument("--mean", type=float, nargs="+")
    parser.add_argument("--std", type=float, nargs="+")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="export: output directory")
    parser.add_argument("--dir", help="check: model directory holding model.safetensors and input.safetensors")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the test runs several at once)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.mode == "export":
        if not args.out:
            parser.error("export needs --out")
        export(args)
    else:
        if not args.dir:
            parser.error("check needs --dir")
        check(args)


if __name__ == "__main__":
    main()
