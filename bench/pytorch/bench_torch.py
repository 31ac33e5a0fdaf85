"""Throughput of the reference PyTorch SkipNet, the baseline the LibTorch addon is
compared with. Same work per step as the addon's trainStep/evalStep: uint8 NHWC batch
-> float NCHW /255 -> per-channel normalise (inside the timed region), forward, and in
train mode mean CE + backward + SGD(lr 0.1, momentum 0.9, wd 1e-4, no nesterov).
Data is synthetic CIFAR-sized uint8 (a few pre-made batches cycled, so no loader cost).

  /usr/bin/python3 bench/pytorch/bench_torch.py --depth 38 --gate rnn --batch 128 \
      --threads 2 --steps 20 --warmup 3 --mode train [--device cpu|cuda] [--arch cifar]

Prints one JSON line: {images_per_s, ms_per_step, threads, torch_version, ...}.
Eval mode uses the same masked full-batch forward as the original code (no real skipping).
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the package tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import skipnet_ref as R  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--arch', default='cifar', choices=['cifar', 'imagenet'])
    ap.add_argument('--depth', type=int, default=38)
    ap.add_argument('--gate', default='rnn', choices=list(R.GATES))
    ap.add_argument('--gate-mode', default='hard', choices=['hard', 'soft'])
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=20)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--mode', default='train', choices=['train', 'eval'])
    ap.add_argument('--size', type=int, default=None, help='input side (default 32 cifar, 224 imagenet)')
    ap.add_argument('--classes', type=int, default=10)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    size = args.size or (32 if args.arch == 'cifar' else 224)
    model = R.SkipNet(args.arch, args.depth, args.gate, args.gate_mode, args.classes, 3).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=False)
    g = torch.Generator().manual_seed(args.seed)
    batches = [(torch.randint(0, 256, (args.batch, size, size, 3), dtype=torch.uint8, generator=g),
                torch.randint(0, args.classes, (args.batch,), generator=g)) for _ in range(4)]
    mean, std = R.CIFAR_MEAN, R.CIFAR_STD
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)

    def step(i):
        imgs, labels = batches[i % len(batches)]
        # host->device copy of uint8 and normalisation are part of the step, as in the addon
        x = R.preprocess(imgs.to(dev), mean, std)
        y = labels.to(dev)
        if args.mode == 'train':
            model.train()
            logits, masks, _ = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return masks
        model.eval()
        with torch.no_grad():
            logits, masks, _ = model(x)
            logits.argmax(1)
        return masks

    for i in range(args.warmup):
        step(i)
    sync()
    execs = []
    step_ms = []  # per-step wall time, for latency percentiles (batch 1)
    t0 = time.perf_counter()
    for i in range(args.steps):
        ts = time.perf_counter()
        masks = step(args.warmup + i)
        sync()
        step_ms.append(1000.0 * (time.perf_counter() - ts))
        execs.append(R.exec_rates(masks) if masks else [])
    sync()
    dt = time.perf_counter() - t0
    n_blocks = model.num_blocks
    cp = sum(R.compute_cp(e, n_blocks) for e in execs) / len(execs) if execs and execs[0] else 100.0
    print(json.dumps({
        'images_per_s': args.batch * args.steps / dt,
        'ms_per_step': 1000.0 * dt / args.steps,
        'threads': torch.get_num_threads(),
        'torch_version': torch.__version__,
        'arch': args.arch, 'depth': args.depth, 'gate': args.gate, 'mode': args.mode,
        'batch': args.batch, 'steps': args.steps, 'device': str(dev), 'cp': cp, 'step_ms': step_ms,
        # peak resident set of this process (Linux reports ru_maxrss in KiB)
        'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == '__main__':
    main()
