/* minitorch-c: float32 tensors with reverse-mode autodiff, parallel kernels and a BLAS backend.
 * Include this one header; link with -lminitorch (pkg-config minitorch, or CMake
 * find_package(minitorch) and target minitorch::minitorch). */
#ifndef MINITORCH_H
#define MINITORCH_H

#include "export.h"
#include "version.h"
#include "error.h"
#include "tensor.h"
#include "scope.h"
#include "memory.h"
#include "ops.h"
#include "autodiff.h"
#include "runtime.h"
#include "nn.h"
#include "debug.h"
#include "safetensors.h"
#include "plan.h"

#endif
