"""Reference SkipNet (Wang et al., ECCV 2018) in plain PyTorch, written from
/work/shared/reference/skipnet-spec.md. It is the yardstick the C++ LibTorch model
is checked against (parity.py) and benchmarked against (bench_torch.py), so the
module/parameter names below ARE the safetensors weight names of the C++ side:

  conv1, bn1                         stem (ImageNet stem also has a param-free maxpool)
  blocks.{i}.conv1/bn1/conv2/bn2     flat list over all stages (+conv3/bn3 for Bottleneck)
  blocks.{i}.downsample.0/.1         1x1 conv (stride s, no bias) + BN on projecting blocks
  fc                                 Linear(final_channels, classes)
  gate.embed.{i}, gate.lstm, gate.proj            RNN gate (one embed per block, shared LSTM)
  gates.{i}.conv1/bn1/(conv2/bn2)/linear          FFGate-I / FFGate-II (one per block)

Semantics (spec sections 2 and 11): block 0 always runs; gate k reads the *blended*
output of block k and decides block k+1, so only gates 0..N-2 are evaluated (the
last gate's parameters exist but are never computed). Blend:
  x_{k+1} = g * relu(F(x) + S(x)) + (1 - g) * S(x),  S = identity or the projection.
Hard gates: forward (p > 0.5) strictly, backward straight-through (hard - p.detach() + p).
Soft gates: mask = p while training, hard threshold in eval.
Every block is computed for the whole batch and then masked (as the original code),
which keeps BN batch statistics identical to the original in training.

Deliberate deviation: the original stores the projection twice (group ds + inside the
block) and calls it twice per forward, so its BN running stats get two momentum
updates per training step. We call it once (same outputs and gradients).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GATES = ('none', 'rnn', 'ffgate1', 'ffgate2')
RNN_DIM = 10  # embedding and LSTM width of the RNN gate (spec 2, "RNNGate")


def _conv3x3(cin, cout, stride=1):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


def _projection(cin, cout, stride):
    # "option B" shortcut; Sequential so keys read downsample.0.* / downsample.1.*
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        # Project whenever the shape changes (stride or width), torchvision's rule;
        # on CIFAR that is exactly the first block of stages 2 and 3.
        self.downsample = _projection(cin, cout, stride) if (stride != 1 or cin != cout) else None
        self.out_channels = cout

    def residual(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return self.bn2(self.conv2(y))

    def forward(self, x):
        """Returns (B(x), S(x)): the full block output and the skip path."""
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(self.residual(x) + s), s


class Bottleneck(BasicBlock):
    """torchvision v1.5 bottleneck: stride on the 3x3, expansion 4."""
    expansion = 4

    def __init__(self, cin, planes, stride):
        nn.Module.__init__(self)
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = _projection(cin, cout, stride) if (stride != 1 or cin != cout) else None
        self.out_channels = cout

    def residual(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        return self.bn3(self.conv3(y))


class RNNGate(nn.Module):
    """Per-block GAP + 1x1 conv (C_i -> 10, bias) embedding, one shared LSTM(10,10)
    stepped once per gate call, Linear(10,1) + sigmoid."""

    def __init__(self, channels):
        super().__init__()
        self.embed = nn.ModuleList(nn.Conv2d(c, RNN_DIM, 1, bias=True) for c in channels)
        self.lstm = nn.LSTM(RNN_DIM, RNN_DIM)  # single layer, seq-first
        self.proj = nn.Linear(RNN_DIM, 1)

    def forward(self, k, x, state):
        """Gate k on feature map x with LSTM state (None = zeros). Returns (p (B,), state)."""
        e = self.embed[k](F.adaptive_avg_pool2d(x, 1)).flatten(1)  # (B, 10)
        out, state = self.lstm(e.unsqueeze(0), state)  # one time step
        p = torch.sigmoid(self.proj(out[0])).squeeze(1)
        return p, state


class FFGate(nn.Module):
    """FFGate-I (kind=1): maxpool2 -> conv3x3 s1+BN+ReLU -> conv3x3 s2+BN+ReLU -> GAP -> 1x1 conv C->2 -> softmax.
    FFGate-II (kind=2): conv3x3 s2+BN+ReLU -> GAP -> 1x1 conv C->2 -> softmax. p = softmax[:, 1].
    GAP replaces the original fixed-kernel AvgPool (identical at the original sizes, works at any size).
    Note FFGate-I needs a map of at least 2x2 for its maxpool."""

    def __init__(self, c, kind):
        super().__init__()
        self.kind = kind
        if kind == 1:
            self.conv1 = _conv3x3(c, c, 1)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = _conv3x3(c, c, 2)
            self.bn2 = nn.BatchNorm2d(c)
        else:
            self.conv1 = _conv3x3(c, c, 2)
            self.bn1 = nn.BatchNorm2d(c)
        self.linear = nn.Conv2d(c, 2, 1, bias=True)

    def forward(self, x):
        if self.kind == 1:
            x = F.max_pool2d(x, 2)
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
        else:
            x = F.relu(self.bn1(self.conv1(x)))
        logits = self.linear(F.adaptive_avg_pool2d(x, 1)).flatten(1)  # (B, 2)
        return F.softmax(logits, dim=1)[:, 1]


IMAGENET_LAYOUTS = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}


class SkipNet(nn.Module):
    def __init__(self, arch='cifar', depth=38, gate='rnn', gate_mode='hard', num_classes=10, in_channels=3):
        super().__init__()
        if gate not in GATES:
            raise ValueError(f'gate must be one of {GATES}')
        if gate_mode not in ('hard', 'soft'):
            raise ValueError('gate_mode must be hard or soft')
        self.arch, self.depth, self.gate_kind, self.gate_mode = arch, depth, gate, gate_mode
        # Test hook: callable (k, p, hard) -> mask replacing the mask rule (selftest, parity).
        self.mask_override = None

        if arch == 'cifar':
            if depth < 8 or (depth - 2) % 6:
                raise ValueError('cifar depth must be 6n+2 with n >= 1')
            n = (depth - 2) // 6
            block, counts, planes, strides = BasicBlock, [n] * 3, [16, 32, 64], [1, 2, 2]
            self.conv1 = _conv3x3(in_channels, 16)
            self.bn1 = nn.BatchNorm2d(16)
            self.maxpool = None
            width = 16
        elif arch == 'imagenet':
            if depth not in IMAGENET_LAYOUTS:
                raise ValueError(f'imagenet depth must be one of {sorted(IMAGENET_LAYOUTS)}')
            block, counts = IMAGENET_LAYOUTS[depth]
            planes, strides = [64, 128, 256, 512], [1, 2, 2, 2]
            self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            width = 64
        else:
            raise ValueError('arch must be cifar or imagenet')

        blocks = []
        for cnt, pl, st in zip(counts, planes, strides):
            for j in range(cnt):
                b = block(width, pl, st if j == 0 else 1)
                width = b.out_channels
                blocks.append(b)
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(width, num_classes)
        channels = [b.out_channels for b in blocks]
        if gate == 'rnn':
            self.gate = RNNGate(channels)
        elif gate in ('ffgate1', 'ffgate2'):
            kind = 1 if gate == 'ffgate1' else 2
            self.gates = nn.ModuleList(FFGate(c, kind) for c in channels)
        self._init_weights(gated=gate != 'none')

    @property
    def num_blocks(self):
        return len(self.blocks)

    def _init_weights(self, gated):
        # Spec 1.3. Conv biases (gate 1x1 convs) and Linear biases keep the PyTorch
        # default; the LSTM keeps its default U(+-1/sqrt(10)).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels  # He fan-out
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear) and gated:
                n = m.weight.size(0) * m.weight.size(1)
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        if self.arch == 'imagenet' and self.gate_kind == 'rnn':
            # The ImageNet scripts re-initialise the gate's "control" parameters (LSTM and
            # projection): xavier-normal weights, zero biases.
            for name, p in list(self.gate.lstm.named_parameters()) + list(self.gate.proj.named_parameters()):
                if 'weight' in name:
                    nn.init.xavier_normal_(p)
                else:
                    nn.init.zeros_(p)

    def _gate_prob(self, k, x, state):
        if self.gate_kind == 'rnn':
            return self.gate(k, x, state)
        return self.gates[k](x), state

    def _mask(self, k, p):
        hard = (p > 0.5).to(p.dtype)  # strict threshold (spec 2)
        if self.mask_override is not None:
            return self.mask_override(k, p, hard)
        if not self.training:
            return hard
        if self.gate_mode == 'soft':
            return p
        return hard - p.detach() + p  # straight-through: value = hard, d/dp = 1

    def features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        return x

    def forward(self, x):
        """x: normalised float NCHW. Returns (logits, masks, probs); masks/probs are
        lists of N-1 (B,) tensors for the decisions on blocks 1..N-1 (empty if ungated)."""
        x = self.features(x)
        x, _ = self.blocks[0](x)  # block 0 always executes
        masks, probs, state = [], [], None
        for k in range(1, len(self.blocks)):
            b, s = self.blocks[k](x)
            if self.gate_kind == 'none':
                x = b
                continue
            # gate k-1 reads the blended output of block k-1 and decides block k
            p, state = self._gate_prob(k - 1, x, state)
            m = self._mask(k - 1, p)
            mv = m.view(-1, 1, 1, 1)
            x = mv * b + (1 - mv) * s
            masks.append(m)
            probs.append(p)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x), masks, probs


def build_model(spec):
    """Build from a NativeModelSpec-like dict (lib/binding-types.ts); seeds torch if seed given."""
    if 'seed' in spec and spec['seed'] is not None:
        torch.manual_seed(int(spec['seed']))
    return SkipNet(arch=spec.get('arch', 'cifar'), depth=int(spec['depth']), gate=spec.get('gate', 'rnn'),
                   gate_mode=spec.get('gateMode', 'hard'), num_classes=int(spec.get('numClasses', 10)),
                   in_channels=int(spec.get('inChannels', 3)))


# CIFAR constants (spec section 7), the defaults for the benchmarks.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
# torchvision's ImageNet statistics (lib/train/normalization.ts IMAGENET_NORMALIZATION).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess(images_u8, mean, std, dtype=torch.float32):
    """uint8 NHWC -> float NCHW in [0,1] -> (x - mean) / std per channel (same order as C++)."""
    x = images_u8.permute(0, 3, 1, 2).to(dtype).div(255.0)
    c = x.shape[1]
    m = torch.tensor(list(mean)[:c], dtype=dtype, device=x.device).view(1, c, 1, 1)
    s = torch.tensor(list(std)[:c], dtype=dtype, device=x.device).view(1, c, 1, 1)
    return (x - m) / s


def count_params(model):
    """(total trainable, gate-only trainable) parameter counts."""
    total = gate = 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            total += p.numel()
            if name.startswith('gate.') or name.startswith('gates.'):
                gate += p.numel()
    return total, gate


def mac_table(model, height, width, in_channels=None):
    """Per-sample conv multiply-accumulates, ModelInfo-shaped (lib/binding-types.ts):
    stem, block (executed, projection included), skip (projection only, or 0),
    gate (per gate call, gates 0..N-2), head (fc, reported apart), full (plain net).
    Measured by hooking every Conv2d during one batch-1 forward, so any input size works;
    the RNN gate adds its LSTM step (2*4*10*10 = 800) and proj (10) analytically."""
    cin = in_channels or model.conv1.in_channels
    n = len(model.blocks)
    stem, block, skip = 0, [0] * n, [0] * n
    gate = [0] * (n - 1) if model.gate_kind != 'none' else []
    hooks = []

    def make_hook(name):
        def hook(mod, inp, out):
            nonlocal stem
            kh, kw = mod.kernel_size
            macs = out.shape[1] * out.shape[2] * out.shape[3] * (mod.in_channels // mod.groups) * kh * kw
            parts = name.split('.')
            if name == 'conv1':
                stem += macs
            elif parts[0] == 'blocks':
                i = int(parts[1])
                block[i] += macs
                if parts[2] == 'downsample':
                    skip[i] += macs
            elif parts[0] == 'gates' or (parts[0] == 'gate' and parts[1] == 'embed'):
                i = int(parts[1] if parts[0] == 'gates' else parts[2])
                gate[i] += macs
        return hook

    for name, mod in model.named_modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(make_hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, cin, height, width))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if model.gate_kind == 'rnn':
        gate = [g + 2 * 4 * RNN_DIM * RNN_DIM + RNN_DIM for g in gate]
    return {
        'stemMacs': stem,
        'blockMacs': block,
        'skipMacs': skip,
        'gateMacs': gate,
        'headMacs': model.fc.in_features * model.fc.out_features,
        'fullMacs': stem + sum(block),
    }


def sample_macs(table, masks):
    """Per-sample conv MACs (B,) float64: stem + block 0 + for each gated block its
    executed cost or its skip cost + every evaluated gate."""
    base = table['stemMacs'] + table['blockMacs'][0] + sum(table['gateMacs'])
    if not masks:
        return torch.full((1,), float(table['fullMacs']), dtype=torch.float64)
    total = torch.full(masks[0].shape, float(base), dtype=torch.float64)
    for k, m in enumerate(masks):
        ex = (m.detach() > 0.5).to(torch.float64)
        total += ex * table['blockMacs'][k + 1] + (1 - ex) * table['skipMacs'][k + 1]
    return total


def exec_rates(masks):
    """Fraction of the batch executing each gated block (mask > 0.5; <= 0.5 is a skip)."""
    return [float((m.detach() > 0.5).double().mean()) for m in masks]


def compute_cp(rates, n_blocks):
    """Spec 5: CP = 100 * (1 + sum_i exec_rate_i) / N; block 0 counts as always run."""
    return 100.0 * (1.0 + sum(rates)) / n_blocks


if __name__ == '__main__':
    # Quick self-check of the spec 1.1 R-38 row; bench/pytorch/selftest.py does the full set.
    want = {'none': 0, 'rnn': 7_791, 'ffgate1': 584_676, 'ffgate2': 293_028}
    for gate, extra in want.items():
        total, g = count_params(SkipNet('cifar', 38, gate))
        assert (total, g) == (564_122 + extra, extra), (gate, total, g)
        print(f'R-38 {gate}: {total:,} params ({g:,} in gates)')
