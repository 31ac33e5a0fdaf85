// The ImageNet transforms on JPEG files, in C++ without LibTorch: libjpeg-turbo decodes (the
// library Pillow and libvips use, with the same default settings, so the pixels equal
// Pillow's), then Pillow's BILINEAR resampling (libImaging/Resample.c: antialiased triangle
// filter, 22-bit fixed-point weights, horizontal pass then vertical) resizes a region of the
// image and writes one window of the result, mirrored if asked. With the boxes of
// lib/data/crop-geometry.ts that is torchvision's RandomResizedCrop + flip, or Resize(256) +
// CenterCrop(224), bit for bit.
//
// A batch of images runs on a few threads of its own (one call per batch, off the main thread).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace skipnet {
namespace image {

// What to do with one encoded image.
struct ResizeJob {
  const uint8_t* data = nullptr;  // the encoded file
  size_t size = 0;
  int expectedWidth = 0, expectedHeight = 0;  // from the header parse that chose the geometry
  // The region of the decoded image that is resampled (train: the crop box; eval: all of it).
  int regionLeft = 0, regionTop = 0, regionWidth = 0, regionHeight = 0;
  // The region is resampled to resizedWidth x resizedHeight, and the window of that result at
  // (windowLeft, windowTop), windowWidth x windowHeight, is written to out (HWC RGB).
  int resizedWidth = 0, resizedHeight = 0;
  int windowLeft = 0, windowTop = 0, windowWidth = 0, windowHeight = 0;
  bool mirror = false;
  uint8_t* out = nullptr;
};

enum class Outcome : int8_t {
  Ok = 0,
  NotJpeg = 1,      // another format: the caller's general decoder handles it
  Unsupported = 2,  // a JPEG this path does not convert (CMYK/YCCK): same
  Corrupt = 3,      // libjpeg failed or the data ended early: message says how
};

struct JobResult {
  Outcome outcome = Outcome::Ok;
  std::string message;
};

// Throws std::invalid_argument when a job's geometry is inconsistent (a caller bug, not a bad
// file); a bad file is reported in its JobResult.
void checkJob(const ResizeJob& job);

JobResult decodeResize(const ResizeJob& job);

// Runs every job on up to `threads` threads; results[i] belongs to jobs[i].
std::vector<JobResult> decodeResizeAll(const std::vector<ResizeJob>& jobs, int threads);

}  // namespace image
}  // namespace skipnet
