#include "architecture.h"

#include <stdexcept>

namespace skipnet {
namespace {

// Output size of a conv/pool with the given kernel, stride and padding.
int64_t outSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

void addStage(Architecture& a, bool bottleneck, int64_t& inCh, int64_t planes, int count, int64_t stride) {
  const int64_t expansion = bottleneck ? 4 : 1;
  for (int i = 0; i < count; ++i) {
    BlockShape b;
    b.bottleneck = bottleneck;
    b.inChannels = inCh;
    b.planes = planes;
    b.outChannels = planes * expansion;
    b.stride = i == 0 ? stride : 1;
    b.projection = b.stride != 1 || b.inChannels != b.outChannels;
    a.blocks.push_back(b);
    inCh = b.outChannels;
  }
}

}  // namespace

Architecture describe(const ModelSpec& spec) {
  Architecture a;
  if (spec.arch == Arch::Cifar) {
    if (spec.depth < 8 || (spec.depth - 2) % 6 != 0) {
      throw std::invalid_argument("CIFAR ResNets have depth 6n+2 (8, 14, 20, 32, 38, 56, 74, 110, 152...), got " +
                                  std::to_string(spec.depth));
    }
    const int n = (spec.depth - 2) / 6;
    int64_t inCh = 16;
    a.stemChannels = 16;
    addStage(a, false, inCh, 16, n, 1);
    addStage(a, false, inCh, 32, n, 2);
    addStage(a, false, inCh, 64, n, 2);
    a.finalChannels = inCh;
    return a;
  }
  std::vector<int> counts;
  bool bottleneck = false;
  switch (spec.depth) {
    case 18: counts = {2, 2, 2, 2}; break;
    case 34: counts = {3, 4, 6, 3}; break;
    case 50: counts = {3, 4, 6, 3}; bottleneck = true; break;
    case 101: counts = {3, 4, 23, 3}; bottleneck = true; break;
    case 152: counts = {3, 8, 36, 3}; bottleneck = true; break;
    default:
      throw std::invalid_argument("ImageNet ResNets have depth 18, 34, 50, 101 or 152, got " +
                                  std::to_string(spec.depth));
  }
  int64_t inCh = 64;
  a.stemChannels = 64;
  addStage(a, bottleneck, inCh, 64, counts[0], 1);
  addStage(a, bottleneck, inCh, 128, counts[1], 2);
  addStage(a, bottleneck, inCh, 256, counts[2], 2);
  addStage(a, bottleneck, inCh, 512, counts[3], 2);
  a.finalChannels = inCh;
  return a;
}

MacTable macTable(const ModelSpec& spec, const Architecture& arch, int64_t height, int64_t width) {
  MacTable t;
  int64_t h = height, w = width;
  if (spec.arch == Arch::Cifar) {
    t.stem = 9.0 * spec.inChannels * arch.stemChannels * h * w;
  } else {
    h = outSize(h, 7, 2, 3);
    w = outSize(w, 7, 2, 3);
    t.stem = 49.0 * spec.inChannels * arch.stemChannels * h * w;
    h = outSize(h, 3, 2, 1);  // max pool
    w = outSize(w, 3, 2, 1);
  }
  t.full = t.stem;
  for (const auto& b : arch.blocks) {
    const int64_t oh = outSize(h, 3, b.stride, 1), ow = outSize(w, 3, b.stride, 1);
    double body = 0;
    if (b.bottleneck) {
      body += 1.0 * b.inChannels * b.planes * h * w;           // 1x1 reduce at input resolution
      body += 9.0 * b.planes * b.planes * oh * ow;             // 3x3 with the stride
      body += 1.0 * b.planes * b.outChannels * oh * ow;        // 1x1 expand
    } else {
      body += 9.0 * b.inChannels * b.planes * oh * ow;
      body += 9.0 * b.planes * b.planes * oh * ow;
    }
    const double proj = b.projection ? 1.0 * b.inChannels * b.outChannels * oh * ow : 0.0;
    t.blockExec.push_back(body + proj);
    t.blockSkip.push_back(proj);
    t.full += body + proj;
    // Gate attached to this block reads its (blended) output at oh x ow.
    const double c = static_cast<double>(b.outChannels);
    double gate = 0;
    switch (spec.gate) {
      case GateKind::None: break;
      case GateKind::Rnn:
        // 1x1 embedding conv on the pooled map, one LSTM step (input and hidden), projection.
        gate = c * kRnnGateDim + 8.0 * kRnnGateDim * kRnnGateDim + kRnnGateDim;
        break;
      case GateKind::FFGate1: {
        const int64_t ph = oh / 2, pw = ow / 2;  // 2x2 max pool
        const int64_t sh = outSize(ph, 3, 2, 1), sw = outSize(pw, 3, 2, 1);
        gate = 9.0 * c * c * ph * pw + 9.0 * c * c * sh * sw + 2.0 * c;
        break;
      }
      case GateKind::FFGate2: {
        const int64_t sh = outSize(oh, 3, 2, 1), sw = outSize(ow, 3, 2, 1);
        gate = 9.0 * c * c * sh * sw + 2.0 * c;
        break;
      }
    }
    t.gate.push_back(gate);
    h = oh;
    w = ow;
  }
  t.head = static_cast<double>(arch.finalChannels) * spec.numClasses;
  return t;
}

ParameterCount countParameters(const ModelSpec& spec, const Architecture& arch) {
  auto bn = [](int64_t c) { return 2 * c; };  // trainable gamma and beta
  ParameterCount p;
  const int64_t stemK = spec.arch == Arch::Cifar ? 9 : 49;
  p.total += stemK * spec.inChannels * arch.stemChannels + bn(arch.stemChannels);
  for (const auto& b : arch.blocks) {
    if (b.bottleneck) {
      p.total += b.inChannels * b.planes + bn(b.planes) + 9 * b.planes * b.planes + bn(b.planes) +
                 b.planes * b.outChannels + bn(b.outChannels);
    } else {
      p.total += 9 * b.inChannels * b.planes + bn(b.planes) + 9 * b.planes * b.planes + bn(b.planes);
    }
    if (b.projection) p.total += b.inChannels * b.outChannels + bn(b.outChannels);
  }
  p.total += arch.finalChannels * spec.numClasses + spec.numClasses;
  const int64_t d = kRnnGateDim;
  switch (spec.gate) {
    case GateKind::None: break;
    case GateKind::Rnn:
      for (const auto& b : arch.blocks) p.gates += b.outChannels * d + d;
      p.gates += 4 * d * d * 2 + 4 * d * 2 + d + 1;  // LSTM(10,10) and the projection
      break;
    case GateKind::FFGate1:
      for (const auto& b : arch.blocks) {
        const int64_t c = b.outChannels;
        p.gates += 2 * (9 * c * c + bn(c)) + 2 * c + 2;
      }
      break;
    case GateKind::FFGate2:
      for (const auto& b : arch.blocks) {
        const int64_t c = b.outChannels;
        p.gates += 9 * c * c + bn(c) + 2 * c + 2;
      }
      break;
  }
  p.total += p.gates;
  return p;
}

}  // namespace skipnet
