// Internal to distributed.cc and gradient_sync.cc: the c10d headers (each backend only when
// this LibTorch ships it) and the objects of one process group.
//
// c10d comes with LibTorch builds that have distributed support (Debian's libtorch_cpu
// exports it; its Gloo headers come from libgloo-dev). A LibTorch without them still builds:
// SKIPNET_HAVE_C10D / _GLOO / _NCCL stay undefined and joining a group reports the gap.
// (SKIPNET_NO_C10D / _NO_GLOO / _NO_NCCL force that, e.g. to check those builds.)
#pragma once
#include "pch.h"

#include <torch/version.h>

#include <memory>

#if !defined(SKIPNET_NO_C10D) && __has_include(<torch/csrc/distributed/c10d/TCPStore.hpp>)
#define SKIPNET_HAVE_C10D 1
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if defined(SKIPNET_HAVE_C10D) && !defined(SKIPNET_NO_GLOO) && __has_include(<gloo/config.h>) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>)
#define SKIPNET_HAVE_GLOO 1
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // ProcessGroupGloo.hpp is empty without it
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
// NCCL only with a CUDA LibTorch (SKIPNET_WITH_CUDA comes from the build) that has NCCL.
#if defined(SKIPNET_HAVE_C10D) && defined(SKIPNET_WITH_CUDA) && !defined(SKIPNET_NO_NCCL) && __has_include(<nccl.h>) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define SKIPNET_HAVE_NCCL 1
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace skipnet {

#ifdef SKIPNET_HAVE_C10D
// LibTorch 1.x's ProcessGroupGloo/NCCL are c10d::ProcessGroups; from 2.0 on they are
// c10d::Backends, with the same collective calls. Only those calls are used here.
#if TORCH_VERSION_MAJOR >= 2
using CommGroup = c10d::Backend;
#else
using CommGroup = c10d::ProcessGroup;
#endif
#endif

struct C10dGroup {
#ifdef SKIPNET_HAVE_C10D
  c10::intrusive_ptr<c10d::Store> store;  // the TCPStore: rendezvous, barriers, shared text
  c10::intrusive_ptr<CommGroup> pg;
#endif
  torch::Device commDevice{torch::kCPU};  // where collective buffers live (CPU for Gloo)
  int rank = 0, size = 1;
};

}  // namespace skipnet
