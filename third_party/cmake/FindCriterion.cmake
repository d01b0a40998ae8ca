# Finds the Criterion test framework through pkg-config (Debian: libcriterion-dev).
# Result: target Criterion::Criterion and Criterion_FOUND.

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_CRITERION QUIET IMPORTED_TARGET criterion)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Criterion
  REQUIRED_VARS PC_CRITERION_FOUND
  VERSION_VAR PC_CRITERION_VERSION
  REASON_FAILURE_MESSAGE "install Debian's libcriterion-dev (third_party/install-deps.sh)")

if(Criterion_FOUND AND NOT TARGET Criterion::Criterion)
  add_library(Criterion::Criterion INTERFACE IMPORTED)
  target_link_libraries(Criterion::Criterion INTERFACE PkgConfig::PC_CRITERION)
endif()
