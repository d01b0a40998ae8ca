# Installation: the library (+ SONAME links), headers, CMake package, pkg-config file.
include(CMakePackageConfigHelpers)

set(MINITORCH_INSTALL_TARGETS minitorch)
if(MINITORCH_BUILD_STATIC)
  list(APPEND MINITORCH_INSTALL_TARGETS minitorch_static)
endif()
install(TARGETS ${MINITORCH_INSTALL_TARGETS} EXPORT minitorchTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/minitorch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(MINITORCH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/minitorch)
install(EXPORT minitorchTargets NAMESPACE minitorch:: DESTINATION ${MINITORCH_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/minitorchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/minitorchConfig.cmake INSTALL_DESTINATION ${MINITORCH_CMAKE_DIR})
# 0.x: minor versions may change the API
write_basic_package_version_file(${PROJECT_BINARY_DIR}/minitorchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/minitorchConfig.cmake
  ${PROJECT_BINARY_DIR}/minitorchConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/third_party/cmake/FindOpenBLASOpenMP.cmake
  DESTINATION ${MINITORCH_CMAKE_DIR})

# pkg-config paths. With a relative libdir the file is relocatable: prefix is found from the
# .pc file's own folder (${pcfiledir}), so `cmake --install --prefix DIR` works; absolute install
# dirs are written as given.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(MINITORCH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _pc_to_prefix "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
  string(REGEX REPLACE "/$" "" _pc_to_prefix "${_pc_to_prefix}")
  set(MINITORCH_PC_PREFIX "\${pcfiledir}/${_pc_to_prefix}")
endif()
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(MINITORCH_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(MINITORCH_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/minitorch.pc.in ${PROJECT_BINARY_DIR}/minitorch.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/minitorch.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The MPI component: libminitorch_mpi, its own export set (find_package(minitorch COMPONENTS mpi)
# loads it, giving minitorch::mpi) and minitorch-mpi.pc.
if(MINITORCH_MPI)
  install(TARGETS minitorch_mpi EXPORT minitorchMpiTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT minitorchMpiTargets NAMESPACE minitorch:: DESTINATION ${MINITORCH_CMAKE_DIR})
  # Open MPI's compile and link flags, as CMake found them, for pkg-config users.
  set(MINITORCH_PC_MPI_CFLAGS "")
  foreach(dir IN LISTS MPI_C_INCLUDE_DIRS)
    string(APPEND MINITORCH_PC_MPI_CFLAGS " -I${dir}")
  endforeach()
  set(MINITORCH_PC_MPI_LIBS "")
  foreach(lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND MINITORCH_PC_MPI_LIBS " ${lib}")
  endforeach()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/minitorch-mpi.pc.in ${PROJECT_BINARY_DIR}/minitorch-mpi.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/minitorch-mpi.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
