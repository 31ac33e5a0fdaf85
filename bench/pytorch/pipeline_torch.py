"""torchvision's ImageNet training pipeline, the baseline of the pipeline benchmark
(bench/pipeline.ts): ImageFolder + DataLoader(num_workers=N) with RandomResizedCrop(224)
(bilinear, scale 0.08-1, ratio 3/4-4/3) + RandomHorizontalFlip, then either
ToTensor + Normalize(ImageNet mean/std) (--output float: a float32 NCHW batch) or PILToTensor
(--output uint8: a uint8 CHW batch, the same bytes as this package's uint8 batches).

  /usr/bin/python3 bench/pytorch/pipeline_torch.py --root DIR --images 100 --batch 64 \
      --samples 1024 --warmup 2 --workers 2 --output float

The images are a Subset of ImageFolder(root) at indices k * len / images (floored), the same
subset bench/pipeline-ours.ts takes; the sampler draws `samples` of them without replacement
(several epochs when needed). Warm-up batches (which include starting the worker processes)
are not timed. Prints one JSON line.
"""
import argparse
import json
import resource
import sys
import time

import PIL
import torch
import torchvision
from torch.utils.data import DataLoader, RandomSampler, Subset
from torchvision import datasets, transforms

sys.dont_write_bytecode = True

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', required=True)
    ap.add_argument('--images', type=int, default=10**9)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--samples', type=int, default=1024)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--output', default='float', choices=['float', 'uint8'])
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(1)  # the main process only collates; workers set 1 thread themselves
    torch.manual_seed(args.seed)
    tail = [transforms.ToTensor(), transforms.Normalize(MEAN, STD)] if args.output == 'float' else [transforms.PILToTensor()]
    tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip()] + tail)
    full = datasets.ImageFolder(args.root, transform=tf)
    m = min(len(full), args.images)
    ds = Subset(full, [k * len(full) // m for k in range(m)])
    for i in ds.indices:  # read each file once so that the timed part starts from the page cache
        with open(full.samples[i][0], 'rb') as f:
            f.read()
    timed_batches = max(1, args.samples // args.batch)
    total = (args.warmup + timed_batches) * args.batch
    sampler = RandomSampler(ds, replacement=False, num_samples=total)
    loader = DataLoader(ds, batch_size=args.batch, sampler=sampler, num_workers=args.workers,
                        drop_last=True, pin_memory=False, persistent_workers=False)
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    it = iter(loader)
    start = time.perf_counter()
    for _ in range(args.warmup):
        next(it)
    first = time.perf_counter() - start
    t0 = time.perf_counter()
    n = 0
    for _ in range(timed_batches):
        x, _y = next(it)
        n += x.shape[0]
    dt = time.perf_counter() - t0
    del it  # shuts the worker processes down and reaps them, so RUSAGE_CHILDREN holds their CPU time
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime) + kids.ru_utime + kids.ru_stime
    print(json.dumps({
        'side': 'torchvision',
        'output': args.output,
        'workers': args.workers,
        'batch': args.batch,
        'images': m,
        'warmup_batches': args.warmup,
        'timed_images': n,
        'images_per_s': n / dt,
        'ms_per_batch': 1000.0 * dt / timed_batches,
        'warmup_s': first if args.warmup > 0 else None,  # includes starting the workers
        # CPU time of the main process during the loop plus all of the workers', per image
        # consumed (warm-up included; batches still in flight at the end count against it)
        'cpu_ms_per_image': 1000.0 * cpu / total,
        'dtype': str(x.dtype),
        'shape': list(x.shape),
        # the main process only (workers are separate processes); Linux reports KiB
        'max_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        'torch_version': torch.__version__,
        'torchvision_version': torchvision.__version__,
        'pil_version': PIL.__version__,
        'python': sys.version.split()[0],
    }))


if __name__ == '__main__':
    main()
