// Precompiled header: torch/torch.h alone costs ~25 s and 1 GB per translation unit,
// so every tensor-touching file includes this first and the build precompiles it once.
#pragma once
#include <torch/torch.h>
