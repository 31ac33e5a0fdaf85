// Errors that cross into JavaScript carry a stable code and a message without C++
// backtraces. Engine code throws SkipNetError; LibTorch's c10::Error is mapped in addon.cc.
#pragma once
#include <stdexcept>
#include <string>

namespace skipnet {

struct SkipNetError : std::runtime_error {
  SkipNetError(std::string code_, const std::string& message) : std::runtime_error(message), code(std::move(code_)) {}
  std::string code;
};

}  // namespace skipnet
