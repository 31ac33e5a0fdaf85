// See jpeg_resize.h. libjpeg reports fatal errors through error_exit, which must not return:
// it longjmps back to decodeRows, whose frame holds only trivially destructible locals (the
// frames it skips are libjpeg's own C frames).
#include "jpeg_resize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

extern "C" {
#include <jerror.h>
#include <jpeglib.h>
}

namespace skipnet {
namespace image {
namespace {

// sharp's default limit on input pixels (0x3FFF * 0x3FFF): larger files go to the general path,
// which refuses them with its own message.
constexpr int64_t kMaxPixels = 268402689;

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void onFatal(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  longjmp(e->jump, 1);
}

// Warnings: data that ends early is an error (as sharp's failOn 'truncated'); the recoverable
// ones Pillow also tolerates (extraneous bytes before a marker, ...) are ignored.
void onMessage(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  const int code = c->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) {
    auto* e = reinterpret_cast<ErrorManager*>(c->err);
    (*c->err->format_message)(c, e->message);
    longjmp(e->jump, 1);
  }
  c->err->num_warnings++;
}

bool isJpeg(const ResizeJob& job) { return job.size >= 3 && job.data[0] == 0xFF && job.data[1] == 0xD8 && job.data[2] == 0xFF; }

// Decodes rows [0, rows) of the image as 8-bit RGB into pixels (width * rows * 3 bytes).
// Later rows are never decoded: the resampling does not read them.
Outcome decodeRows(const ResizeJob& job, int rows, std::vector<uint8_t>& pixels, std::string& message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = onFatal;
  err.pub.emit_message = onMessage;
  err.message[0] = '\0';
  Outcome outcome = Outcome::Ok;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    message = err.message;
    return Outcome::Corrupt;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, job.data, static_cast<unsigned long>(job.size));
  jpeg_read_header(&cinfo, TRUE);
  const auto width = static_cast<int64_t>(cinfo.image_width), height = static_cast<int64_t>(cinfo.image_height);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    outcome = Outcome::Unsupported;
    message = "CMYK JPEG";
  } else if (width != job.expectedWidth || height != job.expectedHeight) {
    outcome = Outcome::Corrupt;
    message = "the frame header says " + std::to_string(width) + "x" + std::to_string(height) + ", the geometry assumed " +
              std::to_string(job.expectedWidth) + "x" + std::to_string(job.expectedHeight);
  } else if (width * height > kMaxPixels) {
    outcome = Outcome::Unsupported;
    message = "more than " + std::to_string(kMaxPixels) + " pixels";
  }
  if (outcome != Outcome::Ok) {
    jpeg_destroy_decompress(&cinfo);
    return outcome;
  }
  // Pillow's settings: RGB out (grayscale replicated), islow DCT, fancy upsampling, no scaling.
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const size_t stride = static_cast<size_t>(width) * 3;
  pixels.resize(stride * static_cast<size_t>(rows));
  JSAMPROW rowPointers[32];
  while (static_cast<int>(cinfo.output_scanline) < rows) {
    const int first = static_cast<int>(cinfo.output_scanline);
    const int count = std::min({rows - first, 32, static_cast<int>(cinfo.rec_outbuf_height) * 4});
    for (int r = 0; r < count; ++r) rowPointers[r] = pixels.data() + static_cast<size_t>(first + r) * stride;
    jpeg_read_scanlines(&cinfo, rowPointers, static_cast<JDIMENSION>(count));
  }
  if (static_cast<int64_t>(cinfo.output_scanline) < height) {
    jpeg_abort_decompress(&cinfo);
  } else {
    jpeg_finish_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  return Outcome::Ok;
}

// Pillow's resampling arithmetic (libImaging/Resample.c, 8 bits per channel).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kRound = 1 << (kPrecisionBits - 1);

inline uint8_t clip8(int32_t v) {
  if (v >= (256 << kPrecisionBits)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// Per output sample: the first input index, the number of taps and ksize fixed-point weights.
struct Coefficients {
  int ksize = 0;
  std::vector<int> start, count;
  std::vector<int32_t> weights;
};

// precompute_coeffs + normalize_coeffs_8bpc with the bilinear (triangle) filter, support 1.
Coefficients bilinearCoefficients(int inSize, int outSize) {
  Coefficients c;
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterScale = std::max(scale, 1.0);
  const double support = filterScale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.start.resize(outSize);
  c.count.resize(outSize);
  c.weights.assign(static_cast<size_t>(outSize) * c.ksize, 0);
  std::vector<double> pre(c.ksize);
  const double ss = 1.0 / filterScale;
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);  // C truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    double total = 0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::fabs((x + xmin - center + 0.5) * ss);
      const double w = t < 1.0 ? 1.0 - t : 0.0;
      pre[x] = w;
      total += w;
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = total != 0.0 ? pre[x] / total : pre[x];
      c.weights[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.start[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// Rows of the decoded image that producing the job's window reads, counted from row 0.
int rowsNeeded(const ResizeJob& job, const Coefficients* vertical) {
  const int lastWindowRow = job.windowTop + job.windowHeight - 1;
  const int lastRegionRow = vertical ? vertical->start[lastWindowRow] + vertical->count[lastWindowRow] : lastWindowRow + 1;
  return job.regionTop + lastRegionRow;
}

// Resamples the region of `pixels` (the decoded image, width * 3 bytes a row) into the window.
void resampleWindow(const ResizeJob& job, const uint8_t* pixels, int width, const Coefficients* horizontal,
                    const Coefficients* vertical, std::vector<uint8_t>& mid, std::vector<int32_t>& acc) {
  const size_t stride = static_cast<size_t>(width) * 3;
  const int left = job.windowLeft, top = job.windowTop, w = job.windowWidth, h = job.windowHeight;
  // Region rows the vertical pass reads for the window's rows.
  const int rowFirst = vertical ? vertical->start[top] : top;
  const int rowLast = vertical ? vertical->start[top + h - 1] + vertical->count[top + h - 1] : top + h;
  const int rows = rowLast - rowFirst;
  const size_t rowBytes = static_cast<size_t>(w) * 3;

  // Horizontal pass into uint8 rows, as Pillow keeps the intermediate image.
  mid.resize(rowBytes * rows);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = pixels + static_cast<size_t>(job.regionTop + rowFirst + y) * stride + static_cast<size_t>(job.regionLeft) * 3;
    uint8_t* m = mid.data() + static_cast<size_t>(y) * rowBytes;
    if (!horizontal) {
      std::memcpy(m, src + static_cast<size_t>(left) * 3, rowBytes);
      continue;
    }
    for (int x = 0; x < w; ++x) {
      const int xx = left + x;
      const uint8_t* p = src + static_cast<size_t>(horizontal->start[xx]) * 3;
      const int32_t* k = horizontal->weights.data() + static_cast<size_t>(xx) * horizontal->ksize;
      int32_t r = kRound, g = kRound, b = kRound;
      for (int t = 0, n = horizontal->count[xx]; t < n; ++t, p += 3) {
        r += p[0] * k[t];
        g += p[1] * k[t];
        b += p[2] * k[t];
      }
      m[x * 3] = clip8(r);
      m[x * 3 + 1] = clip8(g);
      m[x * 3 + 2] = clip8(b);
    }
  }

  // Vertical pass (or the rows as they are), mirrored on the way out if asked.
  acc.resize(rowBytes);
  for (int y = 0; y < h; ++y) {
    uint8_t* dst = job.out + static_cast<size_t>(y) * rowBytes;
    const uint8_t* row;
    if (!vertical) {
      row = mid.data() + static_cast<size_t>(top + y - rowFirst) * rowBytes;
      if (!job.mirror) {
        std::memcpy(dst, row, rowBytes);
      } else {
        for (int x = 0; x < w; ++x) std::memcpy(dst + static_cast<size_t>(w - 1 - x) * 3, row + x * 3, 3);
      }
      continue;
    }
    const int yy = top + y;
    const int s0 = vertical->start[yy] - rowFirst;
    const int32_t* k = vertical->weights.data() + static_cast<size_t>(yy) * vertical->ksize;
    std::fill(acc.begin(), acc.end(), kRound);
    for (int t = 0, n = vertical->count[yy]; t < n; ++t) {
      const uint8_t* m = mid.data() + static_cast<size_t>(s0 + t) * rowBytes;
      const int32_t wt = k[t];
      for (size_t i = 0; i < rowBytes; ++i) acc[i] += m[i] * wt;
    }
    if (!job.mirror) {
      for (size_t i = 0; i < rowBytes; ++i) dst[i] = clip8(acc[i]);
    } else {
      for (int x = 0; x < w; ++x) {
        uint8_t* o = dst + static_cast<size_t>(w - 1 - x) * 3;
        o[0] = clip8(acc[x * 3]);
        o[1] = clip8(acc[x * 3 + 1]);
        o[2] = clip8(acc[x * 3 + 2]);
      }
    }
  }
}

// The per-thread scratch buffers, reused across the images of a batch.
struct Scratch {
  std::vector<uint8_t> pixels, mid;
  std::vector<int32_t> acc;
};

JobResult run(const ResizeJob& job, Scratch& s) {
  JobResult r;
  if (!isJpeg(job)) {
    r.outcome = Outcome::NotJpeg;
    return r;
  }
  Coefficients h, v;
  const bool needH = job.resizedWidth != job.regionWidth, needV = job.resizedHeight != job.regionHeight;
  if (needH) h = bilinearCoefficients(job.regionWidth, job.resizedWidth);
  if (needV) v = bilinearCoefficients(job.regionHeight, job.resizedHeight);
  const int rows = rowsNeeded(job, needV ? &v : nullptr);
  r.outcome = decodeRows(job, rows, s.pixels, r.message);
  if (r.outcome != Outcome::Ok) return r;
  resampleWindow(job, s.pixels.data(), job.expectedWidth, needH ? &h : nullptr, needV ? &v : nullptr, s.mid, s.acc);
  return r;
}

}  // namespace

void checkJob(const ResizeJob& j) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("image job: " + what); };
  if (!j.data || !j.out) fail("missing input or output");
  if (j.expectedWidth < 1 || j.expectedHeight < 1) fail("the image size must be positive");
  if (j.regionLeft < 0 || j.regionTop < 0 || j.regionWidth < 1 || j.regionHeight < 1 ||
      static_cast<int64_t>(j.regionLeft) + j.regionWidth > j.expectedWidth ||
      static_cast<int64_t>(j.regionTop) + j.regionHeight > j.expectedHeight) {
    fail("the region " + std::to_string(j.regionWidth) + "x" + std::to_string(j.regionHeight) + "+" + std::to_string(j.regionLeft) + "+" +
         std::to_string(j.regionTop) + " is not inside the " + std::to_string(j.expectedWidth) + "x" + std::to_string(j.expectedHeight) + " image");
  }
  if (j.resizedWidth < 1 || j.resizedHeight < 1 || j.resizedWidth > 65535 || j.resizedHeight > 65535) fail("the resized size must be in 1..65535");
  if (j.windowLeft < 0 || j.windowTop < 0 || j.windowWidth < 1 || j.windowHeight < 1 ||
      static_cast<int64_t>(j.windowLeft) + j.windowWidth > j.resizedWidth ||
      static_cast<int64_t>(j.windowTop) + j.windowHeight > j.resizedHeight) {
    fail("the window is not inside the resized image");
  }
}

JobResult decodeResize(const ResizeJob& job) {
  Scratch s;
  return run(job, s);
}

std::vector<JobResult> decodeResizeAll(const std::vector<ResizeJob>& jobs, int threads) {
  std::vector<JobResult> results(jobs.size());
  std::atomic<size_t> next{0};
  // Each thread takes the next image until none is left; exceptions (out of memory) are kept
  // per image, so no thread dies with one.
  auto worker = [&] {
    Scratch s;
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        results[i] = run(jobs[i], s);
      } catch (const std::exception& e) {
        results[i].outcome = Outcome::Corrupt;
        results[i].message = e.what();
      }
    }
  };
  const size_t extra = std::min<size_t>(std::max(threads, 1), jobs.size()) - (jobs.empty() ? 0 : 1);
  std::vector<std::thread> pool;
  pool.reserve(extra);
  for (size_t t = 0; t < extra; ++t) {
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // no more threads: the ones running (and this one) finish the batch
    }
  }
  worker();  // the calling thread works too
  for (auto& t : pool) t.join();
  return results;
}

}  // namespace image
}  // namespace skipnet
