"""Self-check of the reference SkipNet against the numbers in skipnet-spec.md.

Run: /usr/bin/python3 bench/pytorch/selftest.py   (exit 0 = all checks pass)
Checks: parameter counts (spec 1.1/1.2 tables), conv MACs (spec 1.1/1.2/2),
straight-through gradients vs finite differences, strict threshold, soft mode,
blend semantics (masked == really skipped at eval), odd input sizes, safetensors I/O.
"""
import os
import sys
import tempfile

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the package tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402
import skipnet_ref as R  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
FAILS = []


def check(label, ok, detail=''):
    print(f'{"ok  " if ok else "FAIL"} {label}{(": " + detail) if detail else ""}')
    if not ok:
        FAILS.append(label)


def near(a, b, rel):
    return abs(a - b) <= rel * abs(b)


# ---------------------------------------------------------------- parameter counts
# spec 1.1: C10 base params and gate increments
CIFAR_TABLE = {
    38: (564_122, 7_791, 584_676, 293_028),
    74: (1_147_418, 14_691, 1_169_352, 586_056),
    110: (1_730_714, 21_591, 1_754_028, 879_084),
    152: (2_411_226, 29_641, 2_436_150, 1_220_950),
}
for depth, (base, rnn, ff1, ff2) in CIFAR_TABLE.items():
    for gate, want in (('none', 0), ('rnn', rnn), ('ffgate1', ff1), ('ffgate2', ff2)):
        total, g = R.count_params(R.SkipNet('cifar', depth, gate))
        check(f'params cifar R-{depth} {gate}', total == base + want and g == want,
              f'total {total:,} (want {base + want:,}), gate {g:,}')
total, _ = R.count_params(R.SkipNet('cifar', 38, 'none', num_classes=100))
check('params cifar100 R-38 fc +5,850', total - 564_122 == 5_850, f'+{total - 564_122:,}')

# spec 1.2 (ImageNet): base params and RNN gate increment. The spec's counts assume a
# 1x1-conv proj (official code); our Linear(10,1) has the same 11 params.
IMNET_TABLE = {34: (21_797_672, 38_811), 50: (25_557_032, 152_091), 101: (44_549_160, 326_341),
               152: (60_192_808, 480_111)}
for depth, (base, rnn) in IMNET_TABLE.items():
    tb, _ = R.count_params(R.SkipNet('imagenet', depth, 'none', num_classes=1000))
    tg, g = R.count_params(R.SkipNet('imagenet', depth, 'rnn', num_classes=1000))
    check(f'params imagenet R-{depth} base+rnn', tb == base and g == rnn and tg == base + rnn,
          f'base {tb:,} (want {base:,}), rnn +{g:,} (want +{rnn:,})')

# ---------------------------------------------------------------- MACs
t = R.mac_table(R.SkipNet('cifar', 38, 'rnn'), 32, 32)
bm = t['blockMacs']
check('MACs R-38 stem 0.44M', near(t['stemMacs'], 0.44e6, 0.01), f'{t["stemMacs"]:,}')
check('MACs R-38 normal block 4.72M', near(bm[1], 4.72e6, 0.001), f'{bm[1]:,}')
check('MACs R-38 strided block 3.67M (0.13M shortcut)', near(bm[6], 3.67e6, 0.001) and near(t['skipMacs'][6], 0.13e6, 0.01),
      f'{bm[6]:,}, shortcut {t["skipMacs"][6]:,}')
check('MACs R-38 skip cost 0 on identity blocks', t['skipMacs'][1] == 0 and sum(1 for s in t['skipMacs'] if s) == 2)
check('MACs R-38 RNN gate ~1.0-1.5k', all(950 <= g <= 1500 for g in t['gateMacs']) and len(t['gateMacs']) == 17,
      f'{sorted(set(t["gateMacs"]))} (C*10 + 800 + 10)')
for depth, want in ((38, 83.3e6), (74, 168.2e6), (110, 253.2e6), (152, 352.2e6)):
    full = R.mac_table(R.SkipNet('cifar', depth, 'none'), 32, 32)['fullMacs']
    check(f'MACs cifar R-{depth} base {want / 1e6:.1f}M', near(full, want, 0.001), f'{full:,}')
for gate, want in (('ffgate1', 0.737e6), ('ffgate2', 0.59e6)):
    g = R.mac_table(R.SkipNet('cifar', 38, gate), 32, 32)['gateMacs']
    check(f'MACs {gate} {want / 1e6:.3g}M per call', all(near(x, want, 0.002) for x in g), f'{sorted(set(g))}')
for depth, want in ((34, 3.66e9), (50, 4.09e9), (101, 7.80e9), (152, 11.51e9)):
    ti = R.mac_table(R.SkipNet('imagenet', depth, 'none', num_classes=1000), 224, 224)
    check(f'MACs imagenet R-{depth} {want / 1e9:.2f}G, stem 118M',
          near(ti['fullMacs'], want, 0.002) and near(ti['stemMacs'], 118e6, 0.002),
          f'{ti["fullMacs"]:,}, stem {ti["stemMacs"]:,}')

# per-sample MACs and CP on a hand-made decision set
t14 = R.mac_table(R.SkipNet('cifar', 14, 'rnn'), 32, 32)  # 6 blocks, 5 decisions
masks = [torch.tensor([1., 0.]), torch.tensor([1., 1.]), torch.tensor([0., 0.]), torch.tensor([1., 0.]), torch.tensor([1., 1.])]
bm, sk = t14['blockMacs'], t14['skipMacs']
want0 = t14['stemMacs'] + sum(bm) - bm[3] + sum(t14['gateMacs'])
want1 = t14['stemMacs'] + bm[0] + bm[2] + sk[1] + sk[3] + sk[4] + bm[5] + sum(t14['gateMacs'])
got = R.sample_macs(t14, masks)
check('per-sample MACs', got.tolist() == [want0, want1], f'{got.tolist()}')
cp = R.compute_cp(R.exec_rates(masks), 6)
check('CP = 100*(1+sum exec)/N', abs(cp - 100 * (1 + 0.5 + 1 + 0 + 0.5 + 1) / 6) < 1e-9, f'{cp:.4f}')

# ---------------------------------------------------------------- gates: STE, threshold, soft
torch.manual_seed(0)
p = torch.tensor([0.5, 0.5 + 1e-7, 0.5 - 1e-7, 0.9], requires_grad=True)
m = R.SkipNet('cifar', 8, 'rnn').train()
mask = m._mask(0, p)
mask.sum().backward()
check('strict threshold p > 0.5, STE dmask/dp = 1', mask.tolist() == [0., 1., 0., 1.] and p.grad.tolist() == [1.] * 4,
      f'mask {mask.tolist()}')


def ste_fd_check(gate):
    """STE gradient == finite differences of the linearised ("soft path") loss:
    every mask_j = c_j - p0_j + p_j (+ delta on gate k) with c_j = hard0_j has the STE
    forward value, and its exact derivative is what the STE backward claims.
    FFGate-I caveat: with c_j exactly 0/1 the loss has kinks there (a 2x2 maxpool over
    ReLU zeros of B(x) mixes in (1-g)*S(x): ties broken by the sign of delta), so its FD
    check runs at c_j = 0.9*hard + 0.05, after showing the STE grads equal the
    linearised model's autograd at c_j = hard exactly."""
    torch.manual_seed(1)
    model = R.SkipNet('cifar', 14, gate).double().train()
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    y = torch.tensor([1, 4, 7])
    ce = torch.nn.functional.cross_entropy
    logits, masks, probs = model(x)
    for q in probs:
        q.retain_grad()
    loss = ce(logits, y)
    loss.backward()
    hard0 = [mm.detach().clone() for mm in masks]
    p0 = [q.detach().clone() for q in probs]
    check(f'{gate}: hard forward masks are 0/1', all(set(mm.tolist()) <= {0.0, 1.0} for mm in hard0),
          f'exec per gate {[int(mm.sum()) for mm in hard0]}')
    delta = {}
    c = list(hard0)
    model.mask_override = lambda k, pp, hard: c[k] - p0[k] + pp + delta.get(k, 0)

    def f():
        with torch.no_grad():
            return float(ce(model(x)[0], y))

    def autograd():
        # grads of the linearised model: (dL/dp per gate, param grads)
        model.zero_grad()
        lg, _, pr = model(x)
        for q in pr:
            q.retain_grad()
        ce(lg, y).backward()
        return [q.grad.clone() for q in pr], {n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None}

    check(f'{gate}: linearised loss == STE loss at c = hard', abs(f() - float(loss)) < 1e-12)
    gp = [q.grad.clone() for q in probs]
    gparams = {n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None}
    if gate == 'ffgate1':
        lp, lparams = autograd()
        same = all(torch.allclose(a, b, rtol=1e-12, atol=1e-15) for a, b in zip(lp, gp)) and \
            all(torch.allclose(lparams[n], g, rtol=1e-12, atol=1e-15) for n, g in gparams.items())
        check(f'{gate}: STE grads == linearised-model autograd at c = hard', same)
        c = [0.9 * h + 0.05 for h in hard0]
        gp, gparams = autograd()
    eps, worst = 1e-6, 0.0
    for k in range(len(probs)):
        for b in range(x.shape[0]):
            e = torch.zeros(x.shape[0], dtype=torch.float64)
            e[b] = eps
            delta[k] = e
            fp = f()
            delta[k] = -e
            fm = f()
            delta.pop(k)
            worst = max(worst, abs((fp - fm) / (2 * eps) - float(gp[k][b])))
    at = ' (at c = 0.9*hard + 0.05)' if gate == 'ffgate1' else ''
    check(f'{gate}: dL/dp (STE) vs finite differences{at}', worst < 1e-7, f'max abs err {worst:.2e}')
    # gradient w.r.t. actual parameters: a gate parameter (only reachable through the STE)
    # and a backbone parameter in a gated block
    names = ['gate.proj.bias' if gate == 'rnn' else 'gates.2.linear.bias', 'blocks.3.conv1.weight']
    params = dict(model.named_parameters())
    worst = 0.0
    for name in names:
        flat, gflat = params[name].data.view(-1), gparams[name].view(-1)
        for i in range(min(3, flat.numel())):
            old = float(flat[i])
            flat[i] = old + eps
            fp = f()
            flat[i] = old - eps
            fm = f()
            flat[i] = old
            worst = max(worst, abs((fp - fm) / (2 * eps) - float(gflat[i])) / max(1e-3, abs(float(gflat[i]))))
    check(f'{gate}: param grads (STE) vs finite differences{at}', worst < 1e-5, f'max rel err {worst:.2e} on {names}')
    model.mask_override = None


for gate in ('rnn', 'ffgate1', 'ffgate2'):
    ste_fd_check(gate)

# soft mode: mask = p in training, hard in eval; the soft loss is an ordinary smooth function
torch.manual_seed(2)
soft = R.SkipNet('cifar', 14, 'rnn', gate_mode='soft').double().train()
x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
_, ms, ps = soft(x)
check('soft mode train: mask == p', all(torch.equal(a, b) for a, b in zip(ms, ps)))
soft.eval()
_, ms, ps = soft(x)
check('soft mode eval: mask == 1[p > 0.5]', all(torch.equal(a, (b > 0.5).double()) for a, b in zip(ms, ps)))
soft.train()


# gradcheck on the proj bias through the soft path (functional swap of the parameter)
bias = soft.gate.proj.bias


def soft_fn(b):
    saved = soft.gate.proj.bias
    del soft.gate.proj.bias
    soft.gate.proj.bias = b
    try:
        return torch.nn.functional.cross_entropy(soft(x)[0], torch.tensor([0, 1]))
    finally:
        del soft.gate.proj.bias
        soft.gate.proj.bias = saved


check('soft mode: autograd == finite differences (gradcheck)',
      torch.autograd.gradcheck(soft_fn, (bias.detach().clone().requires_grad_(True),), eps=1e-6, atol=1e-7))

# ---------------------------------------------------------------- blend semantics
torch.manual_seed(3)
net = R.SkipNet('cifar', 14, 'ffgate2').eval()
x = torch.randn(5, 3, 32, 32)
with torch.no_grad():
    for blk in net.modules():  # non-trivial running stats so eval BN is not the identity
        if isinstance(blk, torch.nn.BatchNorm2d):
            blk.running_mean.uniform_(-0.1, 0.1)
            blk.running_var.uniform_(0.5, 1.5)
    logits, ms, ps = net(x)

    def routed(xi):
        # really skip: run B_k only when gate k-1 fires, otherwise only the skip path S_k
        h, _ = net.blocks[0](net.features(xi))
        for k in range(1, net.num_blocks):
            if net.gates[k - 1](h).item() > 0.5:
                h, _ = net.blocks[k](h)
            else:
                blk = net.blocks[k]
                h = h if blk.downsample is None else blk.downsample(h)
        return net.fc(torch.nn.functional.adaptive_avg_pool2d(h, 1).flatten(1))

    diff = max(float((routed(x[i:i + 1]) - logits[i:i + 1]).abs().max()) for i in range(5))
check('eval: masked batch == per-sample real skipping (incl. projection on skipped strided blocks)', diff < 1e-5,
      f'max |diff| {diff:.2e}, exec {[int(mm.sum()) for mm in ms]}')
check('N-1 decisions, last gate never computed', len(ms) == net.num_blocks - 1)

# ---------------------------------------------------------------- odd shapes
for arch, depth, gate, cin, hw, b in (('cifar', 20, 'ffgate1', 1, 28, 1), ('cifar', 8, 'rnn', 3, 40, 2),
                                        ('imagenet', 18, 'rnn', 1, 64, 1), ('imagenet', 50, 'ffgate2', 3, 96, 2)):
    mdl = R.SkipNet(arch, depth, gate, num_classes=7, in_channels=cin).train()
    lg, ms, ps = mdl(torch.randn(b, cin, hw, hw))
    lg.sum().backward()
    check(f'shapes {arch} R-{depth} {gate} in={cin} {hw}x{hw} B={b}',
          lg.shape == (b, 7) and len(ms) == mdl.num_blocks - 1 and all(q.shape == (b,) for q in ps))

# preprocessing: uint8 NHWC -> normalised NCHW
img = torch.randint(0, 256, (2, 4, 5, 3), dtype=torch.uint8)
xn = R.preprocess(img, R.CIFAR_MEAN, R.CIFAR_STD)
check('preprocess NHWC u8 -> NCHW normalised', xn.shape == (2, 3, 4, 5) and
      abs(float(xn[1, 2, 3, 4]) - (img[1, 3, 4, 2].item() / 255 - 0.4465) / 0.2010) < 1e-6)

# ---------------------------------------------------------------- safetensors round trip
tensors = {'f32': torch.randn(3, 4), 'f64': torch.randn(2, dtype=torch.float64), 'i64': torch.tensor(7),
           'i32': torch.arange(5, dtype=torch.int32), 'u8': torch.randint(0, 256, (2, 2, 3), dtype=torch.uint8),
           'empty': torch.zeros(0, 4), 'loss1': torch.tensor([1.5])}
back, meta = st.loads(st.dumps(tensors, {'k': 'v'}))
check('safetensors round trip (all dtypes, scalar, empty)', meta == {'k': 'v'} and set(back) == set(tensors) and
      all(back[k].dtype == v.dtype and back[k].shape == v.shape and torch.equal(back[k], v) for k, v in tensors.items()))
raw = st.dumps(tensors)
check('safetensors header 8-byte aligned', int.from_bytes(raw[:8], 'little') % 8 == 0)
with tempfile.TemporaryDirectory() as d:
    a = R.SkipNet('cifar', 14, 'rnn')
    path = os.path.join(d, 'w.safetensors')
    st.save(path, a.state_dict())
    b = R.SkipNet('cifar', 14, 'rnn')
    b.load_state_dict(st.load(path), strict=True)
    check('state_dict -> safetensors -> strict load', all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values())))

print(f'\n{"ALL PASSED" if not FAILS else f"{len(FAILS)} FAILED: {FAILS}"}')
sys.exit(1 if FAILS else 0)
