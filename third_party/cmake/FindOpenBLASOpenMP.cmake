# Finds the OpenMP build of OpenBLAS (Debian: libopenblas-openmp-dev).
#
# Debian installs it beside the pthread build, in <libdir>/<multiarch>/openblas-openmp/ with its
# own cblas.h under <includedir>/<multiarch>/openblas-openmp/; the system-wide libopenblas.so.0 is
# an alternatives link that may point at either build. We link the OpenMP folder explicitly (and
# give the library a RUNPATH to it) so BLAS and our kernels share one OpenMP thread pool.
#
# Result: target OpenBLAS::OpenMP, variables OpenBLASOpenMP_FOUND, OpenBLASOpenMP_LIBRARY,
# OpenBLASOpenMP_INCLUDE_DIR, OpenBLASOpenMP_LIBRARY_DIR.

set(_openblas_hints "")
if(CMAKE_LIBRARY_ARCHITECTURE)
  list(APPEND _openblas_hints
       /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
       /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
endif()

find_library(OpenBLASOpenMP_LIBRARY
  NAMES openblas
  HINTS ${_openblas_hints}
  PATH_SUFFIXES openblas-openmp
  NO_DEFAULT_PATH)
find_path(OpenBLASOpenMP_INCLUDE_DIR
  NAMES cblas.h
  HINTS ${_openblas_hints}
  NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OpenBLASOpenMP
  REQUIRED_VARS OpenBLASOpenMP_LIBRARY OpenBLASOpenMP_INCLUDE_DIR
  REASON_FAILURE_MESSAGE "install Debian's libopenblas-openmp-dev (third_party/install-deps.sh)")

if(OpenBLASOpenMP_FOUND)
  get_filename_component(OpenBLASOpenMP_LIBRARY_DIR "${OpenBLASOpenMP_LIBRARY}" DIRECTORY)
  if(NOT TARGET OpenBLAS::OpenMP)
    add_library(OpenBLAS::OpenMP UNKNOWN IMPORTED)
    set_target_properties(OpenBLAS::OpenMP PROPERTIES
      IMPORTED_LOCATION "${OpenBLASOpenMP_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${OpenBLASOpenMP_INCLUDE_DIR}")
  endif()
endif()
mark_as_advanced(OpenBLASOpenMP_LIBRARY OpenBLASOpenMP_INCLUDE_DIR)
