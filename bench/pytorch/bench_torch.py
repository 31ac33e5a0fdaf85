"""Throughput of the reference PyTorch SkipNet, the baseline the LibTorch addon is
compared with. Same work per step as the addon's trainStep/evalStep: uint8 NHWC batch
-> float NCHW /255 -> per-channel normalise (inside the timed region), forward, and in
train mode mean CE + backward + SGD(lr 0.1, momentum 0.9, wd 1e-4, no nesterov).
Data is synthetic uint8 (a few pre-made batches cycled, so no loader cost): 32x32 for
--arch cifar, 224x224 for --arch imagenet, normalised with that dataset's constants.

  /usr/bin/python3 bench/pytorch/bench_torch.py --depth 38 --gate rnn --batch 128 \
      --threads 2 --steps 20 --warmup 3 --mode train [--device cpu|cuda] [--arch cifar] \
      [--precision fp32|bf16|fp16]

--precision bf16/fp16 is PyTorch's AMP recipe: the forward pass and the loss run under
torch.autocast(device_type, dtype) (weights stay float32), backward runs outside it; fp16
(CUDA only) scales the loss with torch.cuda.amp.GradScaler (its defaults: initial scale
65536, growth interval 2000, which is what the engine's side gets too).

On CUDA: torch.backends.cudnn.benchmark = True (the engine's side sets the same through
its cudnnBenchmark spec field); the pre-made batches are pinned once up front and copied
with non_blocking=True, as a DataLoader(pin_memory=True) loop does; and the device is
synchronised before every timer read, so a step's time includes all of its kernels.

Prints one JSON line: {images_per_s, ms_per_step, threads, torch_version, ...}.
Eval mode uses the same masked full-batch forward as the original code (no real skipping).
"""
import argparse
import contextlib
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

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


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
    ap.add_argument('--classes', type=int, default=None, help='default 10 cifar, 1000 imagenet')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--precision', default='fp32', choices=['fp32', 'bf16', 'fp16'])
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()

    dev = torch.device(args.device)
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            sys.exit(f'bench_torch.py: --device {args.device}, but this torch ({torch.__version__}, '
                     f'{sys.executable}) has no usable CUDA; pass --python with a CUDA build of torch')
        if dev.index is not None:
            torch.cuda.set_device(dev)
        torch.backends.cudnn.benchmark = True
    elif dev.type != 'cpu':
        sys.exit(f'bench_torch.py: --device must be cpu, cuda or cuda:N, got {args.device}')
    if args.precision == 'fp16' and dev.type != 'cuda':
        sys.exit('bench_torch.py: --precision fp16 needs a CUDA device (use bf16 on the CPU)')

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    size = args.size or (32 if args.arch == 'cifar' else 224)
    classes = args.classes or (10 if args.arch == 'cifar' else 1000)
    model = R.SkipNet(args.arch, args.depth, args.gate, args.gate_mode, classes, 3).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=False)
    amp_dtype = AMP_DTYPES.get(args.precision)
    scaler = torch.cuda.amp.GradScaler() if args.precision == 'fp16' else None

    def autocast():
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=dev.type, dtype=amp_dtype)

    g = torch.Generator().manual_seed(args.seed)
    batches = [(torch.randint(0, 256, (args.batch, size, size, 3), dtype=torch.uint8, generator=g),
                torch.randint(0, classes, (args.batch,), generator=g)) for _ in range(4)]
    if dev.type == 'cuda':
        batches = [(x.pin_memory(), y.pin_memory()) for x, y in batches]
    mean, std = (R.CIFAR_MEAN, R.CIFAR_STD) if args.arch == 'cifar' else (R.IMAGENET_MEAN, R.IMAGENET_STD)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)

    def step(i):
        imgs, labels = batches[i % len(batches)]
        # host->device copy of uint8 and normalisation are part of the step, as in the addon
        x = R.preprocess(imgs.to(dev, non_blocking=True), mean, std)
        y = labels.to(dev, non_blocking=True)
        if args.mode == 'train':
            model.train()
            with autocast():
                logits, masks, _ = model(x)
                loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            return masks
        model.eval()
        with torch.no_grad(), autocast():
            logits, masks, _ = model(x)
            logits.argmax(1)
        return masks

    def exec_rates(masks):
        # One stacked reduction and one device->host copy (R.exec_rates reads each mask on
        # its own: a device sync per gate on CUDA). Same values.
        if not masks:
            return []
        return torch.stack([m.detach() for m in masks]).gt(0.5).double().mean(1).tolist()

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
        execs.append(exec_rates(masks))  # in the total (dt), as the engine's gateExec is
    sync()
    dt = time.perf_counter() - t0
    n_blocks = model.num_blocks
    cp = sum(R.compute_cp(e, n_blocks) for e in execs) / len(execs) if execs and execs[0] else 100.0
    out = {
        'images_per_s': args.batch * args.steps / dt,
        'ms_per_step': 1000.0 * dt / args.steps,
        'threads': torch.get_num_threads(),
        'torch_version': torch.__version__,
        'arch': args.arch, 'depth': args.depth, 'gate': args.gate, 'mode': args.mode,
        'batch': args.batch, 'size': size, 'classes': classes, 'steps': args.steps, 'warmup': args.warmup,
        'device': str(dev), 'precision': args.precision, 'cp': cp, 'step_ms': step_ms,
        # peak resident set of this process (Linux reports ru_maxrss in KiB)
        'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if dev.type == 'cuda':
        out.update({
            'device_name': torch.cuda.get_device_name(dev),
            'cuda_version': torch.version.cuda,
            'cudnn_version': torch.backends.cudnn.version(),
            'cudnn_benchmark': torch.backends.cudnn.benchmark,
            # TF32 defaults of torch >= 1.12 (convolutions yes, matmuls no), as in LibTorch
            'allow_tf32_cudnn': torch.backends.cudnn.allow_tf32,
            'allow_tf32_matmul': torch.backends.cuda.matmul.allow_tf32,
            'cuda_max_memory_allocated_mb': torch.cuda.max_memory_allocated(dev) / 2**20,
        })
    if scaler is not None:
        out['loss_scale'] = scaler.get_scale()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
