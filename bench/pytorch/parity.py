"""Parity check: one training-mode forward/backward of the reference SkipNet against
what the C++ addon's inspectStep returned for the same weights and batch.

  /usr/bin/python3 bench/pytorch/parity.py --spec spec.json --weights w.safetensors \
      --batch batch.safetensors --native native.safetensors [--dump ref.safetensors] \
      [--native-masks] [--init-out init.safetensors]

spec.json      NativeModelSpec fields (lib/binding-types.ts): arch, depth, gate, gateMode,
               numClasses, inChannels, mean, std (seed used only with --init-out)
weights        state_dict names of skipnet_ref.py, parameters and BN buffers (strict load;
               a missing bn *.num_batches_tracked is tolerated, it does not affect the math)
batch          images U8 [B,H,W,C] (NHWC), labels I32 [B]
native / dump  logits F32 [B,K], loss F32 [] (or [1], mean CE), probs F32 [M,B] (gates
               0..N-2; [0,B] when ungated), grad.<param name> F32 for every trainable parameter
--native-masks take the hard decisions from the native probs (p > 0.5) instead of our own,
               so gradients stay comparable when a p sits within rounding of 0.5
--init-out     instead of loading --weights, build a fresh model from spec.seed and write
               its weights there first (then --weights may be omitted)

Prints ONE JSON line. Without --native only --dump is written and the line holds the
reference numbers (loss, exec counts) so the script doubles as a generator.
Gradients of the last gate's parameters are never computed (that gate is not
evaluated) and count as zeros, the same as an all-zero native grad.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the package tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402
import skipnet_ref as R  # noqa: E402


def maxabs(a, b):
    if a.numel() == 0 and b.numel() == 0:
        return 0.0
    return float((a.double() - b.double()).abs().max())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--spec', required=True)
    ap.add_argument('--weights')
    ap.add_argument('--batch', required=True)
    ap.add_argument('--native')
    ap.add_argument('--dump')
    ap.add_argument('--native-masks', action='store_true')
    ap.add_argument('--init-out')
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with open(args.spec) as f:
        spec = json.load(f)
    model = R.build_model(spec)  # seeds torch from spec.seed
    # float64 on both sides makes the comparison about the algorithm, not float32 rounding
    dtype = torch.float64 if spec.get('dtype') == 'float64' else torch.float32
    model = model.to(dtype)
    if args.init_out:
        st.save(args.init_out, model.state_dict())
    elif args.weights:
        state = st.load(args.weights)
        want = model.state_dict()
        for k in want:  # LibTorch may omit the BN step counter; it never enters the math
            if k.endswith('num_batches_tracked') and k not in state:
                state[k] = want[k]
        model.load_state_dict(state, strict=True)
    else:
        ap.error('--weights or --init-out is required')

    batch = st.load(args.batch)
    x = R.preprocess(batch['images'], spec.get('mean', R.CIFAR_MEAN), spec.get('std', R.CIFAR_STD), dtype)
    y = batch['labels'].long().view(-1)

    native = st.load(args.native) if args.native else None
    if args.native_masks and native is not None and model.gate_kind != 'none':
        forced = (native['probs'] > 0.5).float()
        # same STE expression as the model, only the hard value comes from C++
        model.mask_override = lambda k, p, hard: forced[k].to(p.dtype) - p.detach() + p \
            if model.gate_mode == 'hard' else p

    model.train()  # batch-statistics BN, hard (STE) or soft masks per spec.gateMode
    model.zero_grad()
    logits, masks, probs = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()

    B = x.shape[0]
    probs_t = torch.stack([p.detach() for p in probs]) if probs else torch.zeros(0, B)
    grads = {}
    for name, p in model.named_parameters():
        grads[name] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)

    if args.dump:
        out = {'logits': logits.detach(), 'loss': loss.detach().reshape([]), 'probs': probs_t}
        out.update({f'grad.{k}': v for k, v in grads.items()})
        st.save(args.dump, out, {'source': 'bench/pytorch/skipnet_ref.py', 'torch': torch.__version__})

    exec_counts = [int((m.detach() > 0.5).sum()) for m in masks]
    if native is None:
        print(json.dumps({'loss': float(loss), 'exec': exec_counts, 'n_grads': len(grads)}))
        return

    res = {}
    res['logits_maxabs'] = maxabs(logits.detach(), native['logits'].view(logits.shape))
    res['loss_abs'] = abs(float(loss) - float(native['loss'].reshape(-1)[0]))
    nprobs = native.get('probs', torch.zeros(0, B))
    if nprobs.numel() == 0 and probs_t.numel() == 0:
        nprobs = probs_t
    if nprobs.shape != probs_t.shape:
        res['probs_maxabs'] = float('inf')
        res['masks_equal'] = False
        res['probs_shape'] = [list(nprobs.shape), list(probs_t.shape)]
    else:
        res['probs_maxabs'] = maxabs(probs_t, nprobs)
        res['masks_equal'] = bool(torch.equal(probs_t > 0.5, nprobs > 0.5))
        res['mask_flips'] = int(((probs_t > 0.5) != (nprobs > 0.5)).sum())
    # how close the nearest decision was to the threshold (flips there are rounding, not bugs)
    res['min_margin'] = float((probs_t - 0.5).abs().min()) if probs_t.numel() else None

    worst_abs, worst_rel, worst_name, missing, n = 0.0, 0.0, None, [], 0
    for name, g in grads.items():
        ng = native.get(f'grad.{name}')
        if ng is None:
            missing.append(name)
            continue
        if ng.numel() != g.numel():
            missing.append(f'{name} (shape {list(ng.shape)} vs {list(g.shape)})')
            continue
        n += 1
        d = maxabs(g, ng.view(g.shape))
        # relative to the tensor's own scale so tiny gate grads are judged fairly
        rel = d / max(float(g.abs().max()), 1e-12) if d > 0 else 0.0
        worst_abs = max(worst_abs, d)
        if worst_name is None or rel > worst_rel:
            worst_rel, worst_name = rel, name
    res['grad_maxabs'] = worst_abs
    res['grad_worst'] = worst_name
    res['grad_rel_worst'] = worst_rel
    res['n_grads'] = n
    res['missing'] = missing
    res['unexpected'] = sorted(k[5:] for k in native if k.startswith('grad.') and k[5:] not in grads)
    res['loss'] = float(loss)
    res['exec'] = exec_counts
    print(json.dumps(res))


if __name__ == '__main__':
    main()
