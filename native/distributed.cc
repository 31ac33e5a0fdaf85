#include "pch.h"
#include "distributed.h"

#include "c10d_group.h"
#include "errors.h"
#include "gradient_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace skipnet {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void badArg(const std::string& msg) { throw SkipNetError("ERR_BAD_ARG", msg); }

// An integer from the environment, or fallback when the variable is unset.
int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0 || n > 1 << 30) badArg(std::string(name) + " must be a non-negative integer, got '" + v + "'");
  return static_cast<int>(n);
}

std::string seconds(int64_t ms) {
  std::ostringstream s;
  s << static_cast<double>(ms) / 1000.0 << " s";
  return s.str();
}

std::string where(const DistributedOptions& o) { return o.masterAddr + ":" + std::to_string(o.masterPort); }

// Gloo prefixes its messages with its source location ("[../gloo/transport/tcp/pair.cc:598] ").
std::string readable(std::string detail) {
  if (!detail.empty() && detail[0] == '[') {
    const auto close = detail.find("] ");
    if (close != std::string::npos) detail = detail.substr(close + 2);
  }
  detail = detail.substr(0, detail.find('\n'));
  while (!detail.empty() && (detail.back() == '.' || detail.back() == ' ')) detail.pop_back();  // we add our own
  return detail;
}

bool mentions(const std::string& text, std::initializer_list<const char*> needles) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* n : needles) {
    if (lower.find(n) != std::string::npos) return true;
  }
  return false;
}

bool isLoopback(const std::string& addr) {
  return addr == "localhost" || addr == "::1" || addr.rfind("127.", 0) == 0;
}

#ifdef SKIPNET_HAVE_C10D
std::vector<uint8_t> bytesOf(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
std::string textOf(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }
#endif

}  // namespace

void resolveDistributedOptions(DistributedOptions& o) {
  if (o.rank < 0) o.rank = envInt("RANK", -1);
  if (o.worldSize < 0) o.worldSize = envInt("WORLD_SIZE", -1);
  if (o.worldSize < 0) {
    badArg("the world size is not set: pass worldSize, or set WORLD_SIZE (skipnet launch and torchrun set it)");
  }
  if (o.rank < 0) badArg("the rank is not set: pass rank, or set RANK (skipnet launch and torchrun set it)");
  if (o.worldSize < 1) badArg("the world size must be at least 1, got " + std::to_string(o.worldSize));
  if (o.rank >= o.worldSize) {
    badArg("rank " + std::to_string(o.rank) + " is outside 0.." + std::to_string(o.worldSize - 1) + " (world size " +
           std::to_string(o.worldSize) + ")");
  }
  if (o.localRank < 0) o.localRank = envInt("LOCAL_RANK", o.rank);
  if (o.masterAddr.empty()) {
    const char* a = std::getenv("MASTER_ADDR");
    o.masterAddr = a && *a ? a : "127.0.0.1";
  }
  if (o.masterPort < 0) o.masterPort = envInt("MASTER_PORT", 29500);
  if (o.masterPort < 1 || o.masterPort > 65535) badArg("the master port must be in 1..65535, got " + std::to_string(o.masterPort));
  if (!o.backend.empty() && o.backend != "gloo" && o.backend != "nccl") {
    badArg("backend must be 'gloo' or 'nccl', got '" + o.backend + "'");
  }
  if (o.timeoutMs < 1 || o.collectiveTimeoutMs < 1) badArg("timeouts must be positive (milliseconds)");
  if (!(o.bucketMb > 0)) badArg("bucketMb must be positive");
}

bool distributedBackendAvailable(const std::string& backend) {
#ifdef SKIPNET_HAVE_GLOO
  if (backend == "gloo") return true;
#endif
#ifdef SKIPNET_HAVE_NCCL
  if (backend == "nccl") return torch::cuda::is_available();
#endif
  return false;
}

namespace {

#ifdef SKIPNET_HAVE_C10D
// Polls a store counter until it reaches target; false when the deadline passes first.
bool waitForCount(c10d::Store& store, const std::string& key, int64_t target, Clock::time_point deadline, int64_t* seen) {
  auto pause = milliseconds(1);
  for (;;) {
    *seen = store.add(key, 0);
    if (*seen >= target) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, milliseconds(50));
  }
}

#endif

#ifdef SKIPNET_HAVE_GLOO
std::shared_ptr<::gloo::transport::Device> glooDevice(const DistributedOptions& o) {
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface; else this host's address.
  // A loopback rendezvous means every rank is on this machine: use loopback, which works even
  // when the host name does not resolve (containers).
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) {
    std::string first(ifname);
    first = first.substr(0, first.find(','));
    return c10d::ProcessGroupGloo::createDeviceForInterface(first);
  }
  if (isLoopback(o.masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

}  // namespace

Distributed::Distributed(const DistributedOptions& options, const torch::Device& device)
    : options_(options), device_(device), group_(std::make_shared<C10dGroup>()) {
  auto& o = options_;
  if (o.backend.empty()) {
    o.backend = device.is_cuda() && distributedBackendAvailable("nccl") ? "nccl" : "gloo";
  }
  if (o.backend == "nccl") {
#ifndef SKIPNET_HAVE_NCCL
    throw SkipNetError("ERR_CUDA_UNAVAILABLE",
                       "backend 'nccl' needs a LibTorch built with CUDA and NCCL, and this addon was built without "
                       "them. Use backend 'gloo', or rebuild against a CUDA LibTorch: LIBTORCH=/path/to/libtorch npm run "
                       "build:native");
#else
    if (!device.is_cuda()) {
      throw SkipNetError("ERR_BAD_ARG", "backend 'nccl' runs on GPUs: give the model a CUDA device, or use backend 'gloo'");
    }
#endif
  }
#ifndef SKIPNET_HAVE_C10D
  throw SkipNetError("ERR_DISTRIBUTED",
                     "this LibTorch was built without torch.distributed (c10d headers are missing): data-parallel "
                     "training needs one with distributed support, e.g. Debian's libtorch-dev with libgloo-dev");
#else
#ifndef SKIPNET_HAVE_GLOO
  if (o.backend == "gloo") {
    throw SkipNetError("ERR_DISTRIBUTED",
                       "this addon was built without Gloo (no <gloo/config.h>): install libgloo-dev (Debian/Ubuntu) and "
                       "rebuild with npm run build:native, or use backend 'nccl' on GPUs");
  }
#endif
  bucketBytes_ = static_cast<int64_t>(o.bucketMb * 1024 * 1024);
  group_->rank = o.rank;
  group_->size = o.worldSize;
  const std::string me = "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize);
  const auto deadline = Clock::now() + milliseconds(o.timeoutMs);

  // 1. The store. Rank 0 serves it; the others connect, retrying until the timeout.
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.masterPort);
    so.isServer = o.rank == 0;
    so.numWorkers = o.worldSize;
    so.waitWorkers = false;  // the join count below waits, with a message that names the missing ranks
    so.timeout = milliseconds(o.timeoutMs);
    group_->store = c10::make_intrusive<c10d::TCPStore>(o.masterAddr, so);
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    const std::string detail = readable(c10 ? c10->what_without_backtrace() : e.what());
    if (o.rank == 0) {
      fail("the rendezvous", "could not serve it at " + where(o) + ": " + detail +
                                 ". Is another run using this port? Pick another one (--master-port, MASTER_PORT)");
    }
    fail("the rendezvous", "could not reach rank 0 at " + where(o) + " within " + seconds(o.timeoutMs) + ": " + detail +
                               ". Check that rank 0 is running with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE, "
                               "and that this machine can reach that address");
  }

  // 2. Join: every rank records itself and its world size, then waits for the others.
  auto& store = *group_->store;
  try {
    if (store.add("skipnet/claims/" + std::to_string(o.rank), 1) > 1) {
      fail("the rendezvous", "another process already joined as rank " + std::to_string(o.rank) +
                                 " at " + where(o) + ": give every process its own RANK");
    }
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    store.set("skipnet/rank/" + std::to_string(o.rank),
              bytesOf(std::to_string(o.worldSize) + " " + host + " pid " + std::to_string(getpid())));
    store.add("skipnet/joined", 1);
    int64_t joined = 0;
    if (!waitForCount(store, "skipnet/joined", o.worldSize, deadline, &joined)) {
      std::string missing;
      int count = 0;
      for (int r = 0; r < o.worldSize; ++r) {
        if (store.check({"skipnet/rank/" + std::to_string(r)})) continue;
        if (++count <= 8) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      }
      if (count > 8) missing += ", ...";
      fail("the rendezvous", "timed out after " + seconds(o.timeoutMs) + " at " + where(o) + ": " + std::to_string(joined) +
                                 " of " + std::to_string(o.worldSize) + " ranks arrived; rank(s) " + missing +
                                 " never joined. Start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE "
                                 "(skipnet launch does), or raise the timeout");
    }
    for (int r = 0; r < o.worldSize; ++r) {
      const auto record = textOf(store.get("skipnet/rank/" + std::to_string(r)));
      const auto theirs = record.substr(0, record.find(' '));
      if (theirs != std::to_string(o.worldSize)) {
        fail("the rendezvous", "rank " + std::to_string(r) + " (" + record.substr(record.find(' ') + 1) +
                                   ") was started with world size " + theirs + ", this one with " +
                                   std::to_string(o.worldSize) + ": start every rank with the same WORLD_SIZE");
      }
    }
  } catch (const SkipNetError&) {
    throw;
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    fail("the rendezvous", "the store at " + where(o) + " failed: " + readable(c10 ? c10->what_without_backtrace() : e.what()) +
                               (o.rank == 0 ? "" : ". Rank 0 serves it: has it stopped?"));
  }

  // 3. The process group itself, on a prefix of the store (its keys stay apart from ours).
  try {
    auto prefixed = c10::make_intrusive<c10d::PrefixStore>("skipnet/pg/", group_->store);
    if (o.backend == "gloo") {
#ifdef SKIPNET_HAVE_GLOO
      auto go = c10d::ProcessGroupGloo::Options::create(milliseconds(o.collectiveTimeoutMs));
      go->devices.push_back(glooDevice(o));
      go->threads = 2;  // torch.distributed's default
      group_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, o.rank, o.worldSize, go);
      group_->commDevice = torch::Device(torch::kCPU);
#endif
    } else {
#ifdef SKIPNET_HAVE_NCCL
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = milliseconds(o.collectiveTimeoutMs);
      group_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, o.rank, o.worldSize, no);
      group_->commDevice = device;
#endif
    }
  } catch (const std::exception& e) {
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    fail("creating the " + o.backend + " process group",
         readable(c10 ? c10->what_without_backtrace() : e.what()) + " (" + me + ", rendezvous at " + where(o) + ")");
  }
  gradients_ = std::make_unique<GradientSync>(group_, bucketBytes_, o.overlap);
#endif
}

Distributed::~Distributed() {
#ifdef SKIPNET_HAVE_C10D
  // The group first: its threads may still hold the store.
  try {
    gradients_.reset();
    group_->pg.reset();
    group_->store.reset();
  } catch (...) {
    // Teardown after a failure may throw; nothing is left to report it to.
  }
#endif
}

void Distributed::fail(const std::string& what, const std::string& detail) {
  // What the backends' own messages mean here (the rendezvous and the barriers say it themselves).
  const bool ours = what == "the rendezvous";
  std::string hint;
  if (!ours && mentions(detail, {"connection closed", "connection reset", "broken pipe", "connection refused", "end of file"})) {
    hint = ". Another rank has stopped (exited or crashed); its own output says why (skipnet launch names the rank "
           "that failed first)";
  } else if (!ours && mentions(detail, {"timed out waiting", "collective operation timeout"})) {
    hint = ". Another rank did not take part within the timeout (" + seconds(options_.collectiveTimeoutMs) +
           " for a collective): it may be stuck, much slower, or running a different number of steps";
  }
  const std::string message = "rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.worldSize) +
                              ": " + what + " failed: " + detail + hint;
  broken_ = message;
  throw SkipNetError("ERR_DISTRIBUTED", message);
}

void Distributed::checkUsable(const std::string& what) const {
  if (!broken_.empty()) {
    throw SkipNetError("ERR_DISTRIBUTED", what + " cannot run: the process group failed earlier (" + broken_ + ")");
  }
}

#ifdef SKIPNET_HAVE_C10D
namespace {
// Runs one group operation; every exception becomes ERR_DISTRIBUTED through fail().
template <typename Fn, typename Fail>
void guardedCall(Fn&& fn, Fail&& onError) {
  try {
    fn();
  } catch (const SkipNetError&) {
    throw;
  } catch (const c10::Error& e) {
    onError(readable(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    onError(readable(e.what()));
  }
}
}  // namespace
#endif

void Distributed::broadcastFromRoot(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  checkUsable(what);
#ifdef SKIPNET_HAVE_C10D
  guardedCall(
      [&] {
        torch::NoGradGuard noGrad;
        std::vector<size_t> order(tensors.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        // One dtype per bucket: group them (BN's int64 counters sit between float buffers).
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t a, size_t b) { return tensors[a].scalar_type() < tensors[b].scalar_type(); });
        for (const auto& bucket : makeBuckets(tensors, order, bucketBytes_, bucketBytes_)) {
          std::vector<torch::Tensor> parts;
          for (size_t i : bucket) parts.push_back(tensors[i].detach().reshape(-1).to(group_->commDevice));
          std::vector<at::Tensor> flat{torch::cat(parts)};
          c10d::BroadcastOptions bo;
          bo.rootRank = 0;
          group_->pg->broadcast(flat, bo)->wait();
          int64_t offset = 0;
          for (size_t i : bucket) {
            const auto& t = tensors[i];
            t.detach().copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
            offset += t.numel();
          }
        }
      },
      [&](const std::string& detail) { fail(what, detail); });
#endif
}

void Distributed::beginBackward(const std::vector<torch::Tensor>& params, const std::string& what) {
  checkUsable(what);
#ifdef SKIPNET_HAVE_C10D
  guardedCall([&] { gradients_->beginBackward(params); }, [&](const std::string& detail) { fail(what, detail); });
#endif
}

void Distributed::averageGradients(const std::vector<torch::Tensor>& params, const std::string& what) {
  checkUsable(what);
#ifdef SKIPNET_HAVE_C10D
  guardedCall([&] { gradients_->finish(params); }, [&](const std::string& detail) { fail(what, detail); });
#endif
}

void Distributed::sumInPlace(std::vector<double>& values, const std::string& what) {
  checkUsable(what);
  if (values.empty()) return;
#ifdef SKIPNET_HAVE_C10D
  guardedCall(
      [&] {
        std::vector<at::Tensor> t{torch::tensor(values, torch::kFloat64).to(group_->commDevice)};
        group_->pg->allreduce(t)->wait();
        auto back = t[0].to(torch::kCPU).contiguous();
        std::copy(back.data_ptr<double>(), back.data_ptr<double>() + values.size(), values.begin());
      },
      [&](const std::string& detail) { fail(what, detail); });
#endif
}

void Distributed::sumInPlace(torch::Tensor& values, const std::string& what) {
  checkUsable(what);
#ifdef SKIPNET_HAVE_C10D
  guardedCall(
      [&] {
        std::vector<at::Tensor> t{values.detach().to(group_->commDevice).contiguous()};
        group_->pg->allreduce(t)->wait();
        torch::NoGradGuard noGrad;
        values.copy_(t[0]);
      },
      [&](const std::string& detail) { fail(what, detail); });
#endif
}

void Distributed::barrier(int64_t timeoutMs) {
  const std::string what = "a barrier";
  checkUsable(what);
#ifdef SKIPNET_HAVE_C10D
  const std::string key = "skipnet/barrier/" + std::to_string(++barriers_);
  guardedCall(
      [&] {
        auto& store = *group_->store;
        const auto deadline = Clock::now() + milliseconds(timeoutMs);
        int64_t seen = 0;
        store.add(key + "/in", 1);
        if (!waitForCount(store, key + "/in", options_.worldSize, deadline, &seen)) {
          fail(what, "timed out after " + seconds(timeoutMs) + ": " + std::to_string(seen) + " of " +
                         std::to_string(options_.worldSize) + " ranks arrived (the others are stuck, or stopped)");
        }
        store.add(key + "/out", 1);
        // Rank 0 serves the store, so it leaves last: no rank finds the store gone mid-barrier.
        if (options_.rank == 0 && !waitForCount(store, key + "/out", options_.worldSize, deadline, &seen)) {
          fail(what, "timed out after " + seconds(timeoutMs) + " while the other ranks were leaving it");
        }
      },
      [&](const std::string& detail) {
        fail(what, detail + (options_.rank == 0 ? "" : ". Rank 0 serves the store: has it stopped?"));
      });
#endif
}

std::string Distributed::shareFromRoot(const std::string& text, int64_t timeoutMs) {
  const std::string what = "receiving rank 0's result";
  checkUsable(what);
  std::string out = text;
#ifdef SKIPNET_HAVE_C10D
  const std::string key = "skipnet/share/" + std::to_string(barriers_ + 1);
  guardedCall(
      [&] {
        auto& store = *group_->store;
        if (options_.rank == 0) {
          store.set(key, bytesOf(text));
          return;
        }
        const auto deadline = Clock::now() + milliseconds(timeoutMs);
        auto pause = milliseconds(1);
        while (!store.check({key})) {
          if (Clock::now() >= deadline) {
            fail(what, "timed out after " + seconds(timeoutMs) + " waiting for rank 0 (stuck, or much slower?)");
          }
          std::this_thread::sleep_for(pause);
          pause = std::min(pause * 2, milliseconds(50));
        }
        out = textOf(store.get(key));
      },
      [&](const std::string& detail) { fail(what, detail + ". Rank 0 serves the store: has it stopped?"); });
  // Rank 0 must not leave (and perhaps exit, closing the store) before every rank has read it.
  barrier(timeoutMs);
#endif
  return out;
}

}  // namespace skipnet
