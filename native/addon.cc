// The N-API surface: a Model object whose calls return Promises. Arguments are parsed
// and copied on the main thread; the work runs on the model's own worker thread; the
// result (or a coded error) comes back through a thread-safe function. No C++ exception
// reaches Node, and no LibTorch call runs on the main thread except cheap queries.
#include "pch.h"

#include <dlfcn.h>
#include <napi.h>

#include <atomic>
#include <cstring>
#include <memory>

#include "engine.h"
#include "errors.h"
#include "image_addon.h"
#include "js_convert.h"
#include "worker.h"

namespace skipnet {
namespace {

Napi::Error codedError(Napi::Env env, const std::string& code, const std::string& message) {
  auto e = Napi::Error::New(env, message);
  e.Set("code", code);
  return e;
}

// Runs fn; maps every exception to (code, message) without C++ backtraces.
template <typename Fn>
bool guarded(Fn&& fn, std::string& code, std::string& message) {
  try {
    fn();
    return true;
  } catch (const SkipNetError& e) {
    code = e.code;
    message = e.what();
  } catch (const std::invalid_argument& e) {
    code = "ERR_BAD_ARG";
    message = e.what();
  } catch (const c10::Error& e) {
    code = "ERR_TORCH";
    message = std::string("LibTorch: ") + e.what_without_backtrace();
  } catch (const std::bad_alloc&) {
    code = "ERR_OUT_OF_MEMORY";
    message = "out of memory: use a smaller batch or model";
  } catch (const std::exception& e) {
    code = "ERR_INTERNAL";
    message = e.what();
  } catch (...) {
    code = "ERR_INTERNAL";
    message = "unknown native error";
  }
  return false;
}

// One queued call: work runs on the worker, finish on the main thread.
struct Job {
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  std::function<void()> work;
  std::function<Napi::Value(Napi::Env)> finish;
  std::string code, message;
  bool ok = false;
};

struct AddonData {
  Napi::FunctionReference modelConstructor;
};

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "Model",
                       {
                           InstanceMethod<&Model::trainStep>("trainStep"),
                           InstanceMethod<&Model::evalStep>("evalStep"),
                           InstanceMethod<&Model::inspectStep>("inspectStep"),
                           InstanceMethod<&Model::hrlStep>("hrlStep"),
                           InstanceMethod<&Model::inspectHrl>("inspectHrl"),
                           InstanceMethod<&Model::sharpenGate>("sharpenGate"),
                           InstanceMethod<&Model::exportState>("exportState"),
                           InstanceMethod<&Model::importState>("importState"),
                           InstanceMethod<&Model::info>("info"),
                           InstanceMethod<&Model::initDistributed>("initDistributed"),
                           InstanceMethod<&Model::barrier>("barrier"),
                           InstanceMethod<&Model::shareFromRoot>("shareFromRoot"),
                           InstanceMethod<&Model::allReduce>("allReduce"),
                           InstanceMethod<&Model::dispose>("dispose"),
                       });
  }

  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info) {
    auto env = info.Env();
    std::string code, message;
    // Validate everything that can be checked cheaply now, so a bad spec or a missing
    // CUDA fails at construction rather than at the first step.
    const bool ok = guarded(
        [&] {
          spec_ = specFromJs(info[0]);
          describe(spec_);
          parseDevice(spec_.device);
        },
        code, message);
    if (!ok) throw codedError(env, code, message);

    tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                          "skipnet-model", 0, 1);
    tsfn_.Unref(env);  // only pending calls keep the event loop alive
    const int threads = spec_.threads;
    auto tsfn = tsfn_;
    worker_ = std::make_unique<Worker>(
        [threads] {
          at::init_num_threads();
          at::set_num_threads(threads);
        },
        [this, tsfn]() mutable {
          engine_.reset();  // free tensors on the thread that made them
          tsfn.Release();
        });
  }

  ~Model() override {
    if (worker_) {
      worker_->requestStop();
      worker_->join();
    }
  }

 private:
  // Queues work; the returned Promise settles on the main thread.
  Napi::Value submit(Napi::Env env, std::function<void()> work, std::function<Napi::Value(Napi::Env)> finish) {
    auto job = new Job(env);
    auto promise = job->deferred.Promise();
    if (disposed_) {
      job->deferred.Reject(codedError(env, "ERR_DISPOSED", "this model was disposed; create a new one").Value());
      delete job;
      return promise;
    }
    job->work = std::move(work);
    job->finish = std::move(finish);
    if (pending_++ == 0) {
      tsfn_.Ref(env);
      Ref();  // keep this object alive while the worker uses it
    }
    worker_->post([this, job] {
      job->ok = guarded(job->work, job->code, job->message);
      tsfn_.BlockingCall(job, [this](Napi::Env env, Napi::Function, Job* done) { settle(env, done); });
    });
    return promise;
  }

  void settle(Napi::Env env, Job* job) {
    std::unique_ptr<Job> owned(job);
    if (env == nullptr) return;  // environment shutting down
    if (job->ok) {
      std::string code, message;
      Napi::Value value;
      // Building the result touches only plain data, but guard it anyway.
      if (guarded([&] { value = job->finish(env); }, code, message)) {
        job->deferred.Resolve(value);
      } else {
        job->deferred.Reject(codedError(env, code, message).Value());
      }
    } else {
      job->deferred.Reject(codedError(env, job->code, job->message).Value());
    }
    if (--pending_ == 0) {
      tsfn_.Unref(env);
      Unref();
    }
  }

  // Runs on the worker: the engine is built there, on first use.
  Engine& engine() {
    if (!engine_) engine_ = std::make_unique<Engine>(spec_);
    return *engine_;
  }

  // Parses arguments on the main thread; a bad argument rejects the Promise.
  template <typename Parse>
  bool parse(Napi::Env env, Parse&& fn, Napi::Value& rejected) {
    std::string code, message;
    if (guarded(fn, code, message)) return true;
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(codedError(env, code, message).Value());
    rejected = d.Promise();
    return false;
  }

  Napi::Value trainStep(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto batch = std::make_shared<OwnedBatch>();
    SgdArgs args;
    Napi::Value rejected;
    if (!parse(env, [&] { *batch = batchFromJs(info[0]); args = sgdFromJs(info[1]); }, rejected)) return rejected;
    auto result = std::make_shared<TrainResult>();
    return submit(
        env, [this, batch, args, result] { *result = engine().trainStep(batch->view(), args); },
        [result](Napi::Env e) { return trainResultToJs(e, *result); });
  }

  Napi::Value evalStep(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto batch = std::make_shared<OwnedBatch>();
    double threshold = 0.5;
    bool skipping = true;
    Napi::Value rejected;
    if (!parse(env, [&] {
          *batch = batchFromJs(info[0]);
          if (!info[1].IsUndefined()) threshold = numberFromJs(info[1], "threshold", 0, 1);
          if (!info[2].IsUndefined()) {
            const std::string mode = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
            if (mode != "skip" && mode != "mask") throw SkipNetError("ERR_BAD_ARG", "execution must be 'skip' or 'mask'");
            skipping = mode == "skip";
          }
        }, rejected)) {
      return rejected;
    }
    auto result = std::make_shared<EvalResult>();
    return submit(
        env, [this, batch, threshold, skipping, result] { *result = engine().evalStep(batch->view(), threshold, skipping); },
        [result](Napi::Env e) { return evalResultToJs(e, *result); });
  }

  Napi::Value inspectStep(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto batch = std::make_shared<OwnedBatch>();
    Napi::Value rejected;
    if (!parse(env, [&] { *batch = batchFromJs(info[0]); }, rejected)) return rejected;
    auto result = std::make_shared<std::vector<NamedTensor>>();
    return submit(
        env, [this, batch, result] { *result = engine().inspectStep(batch->view()); },
        [result](Napi::Env e) { return tensorsToJs(e, *result); });
  }

  Napi::Value hrlStep(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto batch = std::make_shared<OwnedBatch>();
    SgdArgs sgd;
    HrlArgs hrl;
    Napi::Value rejected;
    if (!parse(env, [&] { *batch = batchFromJs(info[0]); sgd = sgdFromJs(info[1]); hrl = hrlFromJs(info[2]); }, rejected)) {
      return rejected;
    }
    auto result = std::make_shared<HrlResult>();
    return submit(
        env, [this, batch, sgd, hrl, result] { *result = engine().hrlStep(batch->view(), sgd, hrl); },
        [result](Napi::Env e) { return hrlResultToJs(e, *result); });
  }

  Napi::Value inspectHrl(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto batch = std::make_shared<OwnedBatch>();
    HrlArgs hrl;
    auto actions = std::make_shared<torch::Tensor>();
    Napi::Value rejected;
    if (!parse(env, [&] {
          *batch = batchFromJs(info[0]);
          hrl = hrlFromJs(info[1]);
          if (!info[2].IsUndefined()) {
            const int64_t m = static_cast<int64_t>(describe(spec_).blocks.size()) - 1;
            *actions = tensorFromJs(info[2], {m, batch->n}, "actions");
          }
        }, rejected)) {
      return rejected;
    }
    auto result = std::make_shared<std::vector<NamedTensor>>();
    return submit(
        env, [this, batch, hrl, actions, result] { *result = engine().inspectHrl(batch->view(), hrl, *actions); },
        [result](Napi::Env e) { return tensorsToJs(e, *result); });
  }

  Napi::Value sharpenGate(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    double factor = 1;
    double biasShift = 0;
    Napi::Value rejected;
    if (!parse(
            env,
            [&] {
              factor = numberFromJs(info[0], "factor", 1e-6, 1e6);
              if (!info[1].IsUndefined()) biasShift = numberFromJs(info[1], "biasShift", -50, 50);
            },
            rejected))
      return rejected;
    return submit(env, [this, factor, biasShift] { engine().sharpenGate(factor, biasShift); },
                  [](Napi::Env e) { return e.Undefined(); });
  }

  static bool whichState(const Napi::Value& v) {
    const std::string which = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
    if (which == "weights") return true;
    if (which == "optimizer") return false;
    throw SkipNetError("ERR_BAD_ARG", "state must be 'weights' or 'optimizer'");
  }

  Napi::Value exportState(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    bool weights = true;
    Napi::Value rejected;
    if (!parse(env, [&] { weights = whichState(info[0]); }, rejected)) return rejected;
    auto result = std::make_shared<std::vector<NamedTensor>>();
    return submit(
        env, [this, weights, result] { *result = weights ? engine().exportWeights() : engine().exportOptimizer(); },
        [result](Napi::Env e) { return tensorsToJs(e, *result); });
  }

  Napi::Value importState(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    bool weights = true;
    auto owned = std::make_shared<std::vector<OwnedTensor>>();
    Napi::Value rejected;
    if (!parse(env, [&] { weights = whichState(info[0]); *owned = tensorsFromJs(info[1]); }, rejected)) {
      return rejected;
    }
    return submit(
        env,
        [this, weights, owned] {
          auto tensors = toNamedTensors(*owned);
          if (weights) engine().importWeights(tensors);
          else engine().importOptimizer(tensors);
        },
        [](Napi::Env e) { return e.Undefined(); });
  }

  Napi::Value info(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    const int64_t fallback = spec_.arch == Arch::Cifar ? 32 : 224;
    int64_t h = fallback, w = fallback;
    std::string code, message;
    Napi::Value out;
    const bool ok = guarded(
        [&] {
          if (!info[0].IsUndefined()) h = static_cast<int64_t>(numberFromJs(info[0], "height", 1, 1 << 15));
          if (!info[1].IsUndefined()) w = static_cast<int64_t>(numberFromJs(info[1], "width", 1, 1 << 15));
          out = infoToJs(env, spec_, h, w);
        },
        code, message);
    if (!ok) throw codedError(env, code, message);
    return out;
  }

  // Joins a process group (rendezvous with the other ranks, then rank 0's weights are copied
  // here). It blocks for up to the rendezvous timeout, so it runs on the worker like a step.
  Napi::Value initDistributed(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    DistributedOptions options;
    Napi::Value rejected;
    if (!parse(env, [&] {
          options = distributedFromJs(info[0]);
          resolveDistributedOptions(options);  // reads RANK, WORLD_SIZE...: main thread only
        }, rejected)) {
      return rejected;
    }
    auto joined = std::make_shared<DistributedOptions>();
    return submit(
        env,
        [this, options, joined] {
          // Checked before the rendezvous: a second one would fight the first for the port.
          if (engine().distributed()) throw SkipNetError("ERR_BAD_ARG", "this model already belongs to a process group");
          auto group = std::make_unique<Distributed>(options, parseDevice(spec_.device));
          *joined = options;
          joined->backend = group->backend();
          engine().attachDistributed(std::move(group));
        },
        [joined](Napi::Env e) {
          auto o = Napi::Object::New(e);
          o.Set("rank", joined->rank);
          o.Set("worldSize", joined->worldSize);
          o.Set("localRank", joined->localRank);
          o.Set("backend", joined->backend);
          o.Set("masterAddr", joined->masterAddr);
          o.Set("masterPort", joined->masterPort);
          return o;
        });
  }

  // Runs on the worker: the model's group, or a coded error when it has none.
  Distributed& group() {
    auto* d = engine().distributed();
    if (!d) throw SkipNetError("ERR_BAD_ARG", "this model has no process group: call initDistributed() first");
    return *d;
  }

  static int64_t optionalTimeout(const Napi::Value& v) {
    return v.IsUndefined() ? 0 : static_cast<int64_t>(numberFromJs(v, "timeoutMs", 1, 1e10));
  }

  Napi::Value barrier(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    int64_t timeout = 0;
    Napi::Value rejected;
    if (!parse(env, [&] { timeout = optionalTimeout(info[0]); }, rejected)) return rejected;
    return submit(
        env, [this, timeout] { group().barrier(timeout > 0 ? timeout : group().collectiveTimeoutMs()); },
        [](Napi::Env e) { return e.Undefined(); });
  }

  Napi::Value shareFromRoot(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto text = std::make_shared<std::string>();
    int64_t timeout = 0;
    Napi::Value rejected;
    if (!parse(env, [&] {
          if (!info[0].IsString()) throw SkipNetError("ERR_BAD_ARG", "shareFromRoot expects a string");
          *text = info[0].As<Napi::String>().Utf8Value();
          timeout = optionalTimeout(info[1]);
        }, rejected)) {
      return rejected;
    }
    return submit(
        env, [this, text, timeout] { *text = group().shareFromRoot(*text, timeout > 0 ? timeout : group().collectiveTimeoutMs()); },
        [text](Napi::Env e) { return Napi::String::New(e, *text); });
  }

  // Sums a Float64Array over the ranks (small values: flags, counters, metrics).
  Napi::Value allReduce(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto values = std::make_shared<std::vector<double>>();
    Napi::Value rejected;
    if (!parse(env, [&] {
          if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
            throw SkipNetError("ERR_BAD_ARG", "allReduce expects a Float64Array");
          }
          auto a = info[0].As<Napi::Float64Array>();
          values->assign(a.Data(), a.Data() + a.ElementLength());
        }, rejected)) {
      return rejected;
    }
    return submit(
        env, [this, values] { group().sumInPlace(*values, "an all-reduce"); },
        [values](Napi::Env e) {
          auto out = Napi::Float64Array::New(e, values->size());
          if (!values->empty()) std::memcpy(out.Data(), values->data(), values->size() * sizeof(double));
          return out;
        });
  }

  Napi::Value dispose(const Napi::CallbackInfo& info) {
    if (!disposed_) {
      disposed_ = true;
      worker_->requestStop();  // queued calls still finish; the engine is freed after them
    }
    return info.Env().Undefined();
  }

  ModelSpec spec_;
  std::unique_ptr<Engine> engine_;  // touched only on the worker thread
  std::unique_ptr<Worker> worker_;
  Napi::ThreadSafeFunction tsfn_;
  int pending_ = 0;  // main thread only
  bool disposed_ = false;
};

std::string libtorchLocation() {
  Dl_info dl;
  if (dladdr(reinterpret_cast<void*>(&at::get_num_threads), &dl) != 0 && dl.dli_fname) return dl.dli_fname;
  return "unknown";
}

Napi::Value versions(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("libtorch", TORCH_VERSION);
  const bool cuda = torch::cuda::is_available();
  o.Set("cuda", cuda);
  o.Set("cudaDevices", cuda ? static_cast<double>(torch::cuda::device_count()) : 0.0);
  uint32_t napi = 0;
  napi_get_version(env, &napi);
  o.Set("napi", napi);
  o.Set("threads", at::get_num_threads());
  o.Set("libtorchPath", libtorchLocation());
  auto backends = Napi::Array::New(env);  // data-parallel backends this build can use
  for (const char* b : {"gloo", "nccl"}) {
    if (distributedBackendAvailable(b)) backends.Set(backends.Length(), b);
  }
  o.Set("distributedBackends", backends);
#ifdef SKIPNET_WITH_CUDA
  o.Set("builtWithCuda", true);
#else
  o.Set("builtWithCuda", false);
#endif
  return o;
}

// hrlReturns(actions: Float64Array (M*B), ce: Float64Array (B), M, B, hrlArgs) -> Float64Array (M*B).
// Pure arithmetic on small arrays, so it runs synchronously; it exists to test the formula.
Napi::Value hrlReturnsJs(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  std::string code, message;
  Napi::Value out;
  const bool ok = guarded(
      [&] {
        const auto m = static_cast<int64_t>(numberFromJs(info[2], "M", 1, 1e6));
        const auto b = static_cast<int64_t>(numberFromJs(info[3], "B", 1, 1e7));
        auto actions = tensorFromJs(info[0], {m, b}, "actions").to(torch::kFloat64);
        auto ce = tensorFromJs(info[1], {b}, "ce").to(torch::kFloat64);
        auto g = hrlReturns(actions, ce, hrlFromJs(info[4])).contiguous();
        auto arr = Napi::Float64Array::New(env, g.numel());
        std::memcpy(arr.Data(), g.data_ptr<double>(), g.numel() * sizeof(double));
        out = arr;
      },
      code, message);
  if (!ok) throw codedError(env, code, message);
  return out;
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  auto ctor = Model::define(env);
  data->modelConstructor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);  // per environment, so worker_threads each get their own
  exports.Set("Model", ctor);
  exports.Set("versions", Napi::Function::New(env, versions));
  exports.Set("hrlReturns", Napi::Function::New(env, hrlReturnsJs));
  exports.Set("preprocessJpegBatch", Napi::Function::New(env, preprocessJpegBatch));
  return exports;
}

}  // namespace
}  // namespace skipnet

static Napi::Object InitSkipnet(Napi::Env env, Napi::Object exports) { return skipnet::init(env, exports); }
NODE_API_MODULE(skipnet, InitSkipnet)
