/* Version and build configuration. */
#include <omp.h>
#include <stdio.h>

#include "minitorch/runtime.h"
#include "minitorch/version.h"
#include "kernels/kernels.h"


int mt_version(void) { return MT_VERSION_NUMBER; }

const char *mt_version_string(void) { return MT_VERSION_STRING; }

const char *mt_config_string(void)
{
    static _Thread_local char config[512];
    static const char *const threading[] = {"sequential", "pthreads", "openmp"};
    int model = mti_blas_threading();
    snprintf(config, sizeof config,
             "minitorch %s; backends naive, blas (current %s); BLAS: %s, threading %s; "
             "OpenMP %d; threads %d; compiled with %s%s",
             MT_VERSION_STRING, mt_backend_name(mt_get_backend()), mti_blas_config(),
             model >= 0 && model <= 2 ? threading[model] : "unknown", _OPENMP,
             mt_get_num_threads(), __VERSION__,
#ifdef MINITORCH_NATIVE
             " -march=native"
#else
             ""
#endif
    );
    return config;
}
