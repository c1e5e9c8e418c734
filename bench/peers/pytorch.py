"""The PyTorch peer of `npm run bench -- engine`: the same networks (torchvision ResNet-18/50 with
the ImageNet stem, 2 classes, which is what medrobust builds above 32 px), the same tasks and the
same timing rule (one warm-up, then the median of the repeats). Reads one case as JSON from argv[1]
and prints one JSON result line. Needs Debian's python3-torch and python3-torchvision.
"""
import json
import os
import resource
import sys
import time

case = json.loads(sys.argv[1])
try:
    import torch
    import torchvision
except ImportError as error:  # reported by the benchmark as a skipped peer
    print(json.dumps({**case, "ms": None, "rssMB": None, "error": f"PyTorch not importable: {error}"}))
    sys.exit(0)

threads = case.get("threads") or os.cpu_count() or 1
torch.set_num_threads(threads)
torch.manual_seed(0)
size, batch = case["size"], case["batch"]
model = getattr(torchvision.models, case["model"])(num_classes=2)
generator = torch.Generator().manual_seed(1)
x = torch.rand(batch, 3, size, size, generator=generator)
labels = torch.arange(batch) % 2
loss_function = torch.nn.CrossEntropyLoss(reduction="sum")
optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)


def run():
    task = case["task"]
    if task == "forward":
        model.eval()
        with torch.no_grad():
            model(x).numpy()
    elif task == "input-gradient":
        model.eval()
        image = x.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(loss_function(model(image), labels), image)
        gradient.numpy()
    elif task == "pgd-20":
        # L∞ PGD, 20 steps of ε/4 with random start, as medrobust's bench runs it.
        model.eval()
        epsilon = 8 / 255
        adversarial = (x + torch.empty_like(x).uniform_(-epsilon, epsilon)).clamp(0, 1)
        for _ in range(20):
            adversarial.requires_grad_(True)
            (gradient,) = torch.autograd.grad(loss_function(model(adversarial), labels), adversarial)
            with torch.no_grad():
                adversarial = adversarial + epsilon / 4 * gradient.sign()
                adversarial = torch.min(torch.max(adversarial, x - epsilon), x + epsilon).clamp(0, 1)
        adversarial.detach().numpy()
    else:
        model.train()
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), labels).backward()
        optimiser.step()


run()
times = []
for _ in range(case["repeats"]):
    start = time.perf_counter()
    run()
    times.append((time.perf_counter() - start) * 1000)
times.sort()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(json.dumps({**case, "threads": threads, "ms": round(times[len(times) // 2], 1), "rssMB": rss}))
