// The shape of a ResNet/SkipNet as plain numbers: blocks, channels, strides and the
// conv multiply-accumulates (MACs) of every piece. No tensors here, so model info and
// MAC accounting are exact arithmetic and cheap to compute on the main thread.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace skipnet {

enum class Arch { Cifar, ImageNet };
enum class GateKind { None, Rnn, FFGate1, FFGate2 };
enum class GateMode { Hard, Soft };

// Mixed precision (precision.h): the dtype autocast computes in; weights stay float32.
enum class Precision { Fp32, Bf16, Fp16 };

struct LossScaleOptions {
  bool enabled = false;
  double initScale = 65536.0;     // 2^16, as GradScaler
  int64_t growthInterval = 2000;  // finite steps in a row before the scale doubles
};

struct ModelSpec {
  Arch arch = Arch::Cifar;
  int depth = 38;
  GateKind gate = GateKind::Rnn;
  GateMode gateMode = GateMode::Hard;
  int numClasses = 10;
  int inChannels = 3;
  std::vector<double> mean{0.0, 0.0, 0.0};
  std::vector<double> std{1.0, 1.0, 1.0};
  std::string device = "cpu";
  int threads = 1;
  uint64_t seed = 0;
  bool float64 = false;  // double precision: for gradient checks against references
  Precision precision = Precision::Fp32;
  LossScaleOptions lossScale;  // dynamic loss scaling, for fp16
  bool cudnnBenchmark = false;  // CUDA: let cuDNN benchmark convolution algorithms
};

struct BlockShape {
  bool bottleneck = false;
  int64_t inChannels = 0;
  int64_t planes = 0;       // width of the inner convs
  int64_t outChannels = 0;  // planes * expansion
  int64_t stride = 1;
  bool projection = false;  // 1x1 conv + BN shortcut (stride != 1 or channels change)
};

struct Architecture {
  std::vector<BlockShape> blocks;
  int64_t stemChannels = 16;
  int64_t finalChannels = 64;
};

// Throws std::invalid_argument with a readable message for unsupported depths.
Architecture describe(const ModelSpec& spec);

// The RNN gate's embedding width and hidden size (fixed by the paper).
constexpr int64_t kRnnGateDim = 10;

struct MacTable {
  double stem = 0;
  std::vector<double> blockExec;  // MACs when block i runs (its projection included)
  std::vector<double> blockSkip;  // MACs when block i is skipped (its projection, or 0)
  std::vector<double> gate;       // MACs of the gate attached to block i
  double head = 0;                // fc layer (not a conv; reported apart)
  double full = 0;                // plain network: stem + every block
};

// Conv MACs for an input of height x width, following the He et al. convention the
// paper uses (multiply-adds of convolutions; BN, ReLU, pooling not counted).
MacTable macTable(const ModelSpec& spec, const Architecture& arch, int64_t height, int64_t width);

struct ParameterCount {
  int64_t total = 0;
  int64_t gates = 0;
};
ParameterCount countParameters(const ModelSpec& spec, const Architecture& arch);

}  // namespace skipnet
