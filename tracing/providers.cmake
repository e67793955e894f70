# tracing/providers.cmake — LTTng-UST providers: libmc-tp-harness.so (microcosm_harness, loaded
# by the harness on request through mc_trace.c) and the MPI interposer libmc-mpi-trace.so
# (microcosm_mpi and microcosm_workload, preloaded into MPI ranks).

# libmc-tp-harness.so: the only place the host side touches lttng-ust. The harness dlopens it
# (mc_trace_open) and never links it; see mc_trace.h.
add_library(mc-tp-harness SHARED tp_harness.c tp_harness_fns.c)
target_include_directories(mc-tp-harness PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(mc-tp-harness PRIVATE PkgConfig::LTTNG_UST ${CMAKE_DL_LIBS})
# lttng-ust must stay a dependency even where only its constructor is used.
target_link_options(mc-tp-harness PRIVATE -Wl,--no-as-needed)
set_target_properties(mc-tp-harness PROPERTIES OUTPUT_NAME mc-tp-harness)

# The harness side: plain C, no lttng headers, compiled into mc_harness. The default provider
# is this build's library, by absolute path; MC_TRACE_PROVIDER overrides it at run time.
target_sources(mc_harness PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/mc_trace.c)
target_include_directories(mc_harness PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(mc_harness PUBLIC dl)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/mc_trace.c TARGET_DIRECTORY mc_harness
  PROPERTIES COMPILE_DEFINITIONS "MC_TRACE_PROVIDER_DEFAULT=\"$<TARGET_FILE:mc-tp-harness>\"")
# Whatever links the harness gets a provider to load.
add_dependencies(mc_harness mc-tp-harness)

# libmc-mpi-trace.so: guest payload next to libmc-mpi-preload.so, never sanitized (guests have
# no sanitizer runtime). Preload it before libmc-mpi-preload.so; see mc_mpi_trace.h.
find_package(MPI REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)
if(NOT MC_WORKLOAD_BIN_DIR)
  set(MC_WORKLOAD_BIN_DIR ${CMAKE_BINARY_DIR}/workloads/bin)
endif()
add_library(mc-mpi-trace SHARED mpi_trace.c tp_mpi.c)
target_include_directories(mc-mpi-trace PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(mc-mpi-trace PRIVATE MPI::MPI_C PkgConfig::LTTNG_UST Threads::Threads
  ${CMAKE_DL_LIBS})
target_compile_options(mc-mpi-trace PRIVATE -fno-sanitize=all)
target_link_options(mc-mpi-trace PRIVATE -fno-sanitize=all -Wl,--no-as-needed)
set_target_properties(mc-mpi-trace PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MC_WORKLOAD_BIN_DIR}
  OUTPUT_NAME mc-mpi-trace)
