"""safetensors round trip between skipnet and the PyTorch reference (bench/pytorch/skipnet_ref.py).

  /usr/bin/python3 test/service/torch_roundtrip.py --spec spec.json --weights ours.safetensors \
      --images images.safetensors --logits ours_in_torch.safetensors \
      --seed 1234 --make theirs.safetensors --make-logits theirs_logits.safetensors

1. Load --weights (written by skipnet's model.saveWeights) into the reference model with
   load_state_dict(strict=True), run an eval-mode forward (hard gates, p > 0.5) on the U8
   NHWC images (tensor 'images'), write the logits (F32 [B, K], tensor 'logits').
2. Build a fresh reference model from --seed, give its BN layers non-trivial running
   statistics (so buffers matter), save its state_dict to --make with the model spec in
   __metadata__.spec (what skipnet's Classifier.load reads), and write its logits on the same
   images to --make-logits.
Prints one JSON line with counts.
"""
import argparse
import json
import os
import sys

import torch

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'bench', 'pytorch'))
import safetensors_io as st  # noqa: E402
import skipnet_ref as R  # noqa: E402


def forward(model, images, spec):
    model.eval()
    with torch.no_grad():
        x = R.preprocess(images, spec['mean'], spec['std'])
        logits, masks, _ = model(x)
    return logits.float().contiguous(), masks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--spec', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--images', required=True)
    ap.add_argument('--logits', required=True)
    ap.add_argument('--seed', type=int, required=True)
    ap.add_argument('--make', required=True)
    ap.add_argument('--make-logits', required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)

    with open(args.spec) as f:
        spec = json.load(f)
    images = st.load(args.images)['images']

    # 1. our weights in PyTorch, strictly
    ours = st.load(args.weights)
    model = R.build_model(spec)
    missing_counters = [k for k in model.state_dict() if k.endswith('num_batches_tracked') and k not in ours]
    for k in missing_counters:  # LibTorch may omit the BN step counter; it never enters the math
        ours[k] = model.state_dict()[k]
    model.load_state_dict(ours, strict=True)
    logits, masks = forward(model, images, spec)
    st.save(args.logits, {'logits': logits})
    executed = [int(m.sum()) for m in masks]

    # 2. a PyTorch-made model for us to load
    theirs_spec = dict(spec, seed=args.seed)
    other = R.build_model(theirs_spec)
    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for m in other.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    state = {k: v for k, v in other.state_dict().items() if not (k in missing_counters)}
    st.save(args.make, state, metadata={'format': 'pt', 'producer': 'skipnet_ref.py', 'spec': json.dumps(theirs_spec)})
    theirs_logits, theirs_masks = forward(other, images, theirs_spec)
    st.save(args.make_logits, {'logits': theirs_logits})

    print(json.dumps({
        'tensors': len(ours),
        'counters_added': len(missing_counters),
        'executed_ours': executed,
        'executed_theirs': [int(m.sum()) for m in theirs_masks],
    }))


if __name__ == '__main__':
    main()
