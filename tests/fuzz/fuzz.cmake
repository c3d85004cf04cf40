# fuzz.cmake - ebb's fuzz targets (tests/fuzz/fuzz_*.c), include()d from the
# top-level CMakeLists.txt after the component libraries, enable_testing()
# and EBB_TEST_ENV are defined.
#
# Two things, from the same target files:
#  - always, with any compiler: replay_fuzz_<t>, the target linked with
#    replay_main.c against the ordinary libraries, and a ctest test
#    fuzz/replay_<t> that runs it over tests/fuzz/corpus/<t>/.  The normal
#    and the ASan CI builds so rerun every corpus and every crash once
#    found (docs/security.md).
#  - with clang and -DEBB_FUZZ=ON: fuzz_<t>, the libFuzzer binary, built
#    with -fsanitize=fuzzer,address,undefined against instrumented copies
#    of the libraries it needs (ebbfz_*), so that the fuzzer sees coverage
#    inside ebb's parsers and not only in the harness.  The ordinary
#    libraries, daemons and tests of the tree stay as they are.
#    tests/fuzz/run-fuzz.sh (make fuzz) drives them.

option(EBB_FUZZ "Build the libFuzzer targets (clang only)" OFF)

set(EBB_FUZZ_DIR ${CMAKE_SOURCE_DIR}/tests/fuzz)
find_package(Threads REQUIRED)

# target name -> the ordinary libraries its replayer links
set(EBB_FUZZ_TARGETS policy wire http mig_recv sim_trace sim_fleet
  agt_config ctl_config)
set(EBB_FUZZ_LIBS_policy ebb_policy ebb_common)
set(EBB_FUZZ_LIBS_wire ebb_common)
set(EBB_FUZZ_LIBS_http ebb_common)
set(EBB_FUZZ_LIBS_mig_recv ebb_migrate ebb_common Threads::Threads)
set(EBB_FUZZ_LIBS_sim_trace ebb_sim ebb_policy ebb_common)
set(EBB_FUZZ_LIBS_sim_fleet ebb_sim ebb_policy ebb_common)
set(EBB_FUZZ_LIBS_agt_config ebb_agent ebb_power ebb_policy ebb_common)
set(EBB_FUZZ_LIBS_ctl_config ebb_controller ebb_policy ebb_common)

# ---- replayers (every build) ---------------------------------------------
foreach(t ${EBB_FUZZ_TARGETS})
  add_executable(replay_fuzz_${t} ${EBB_FUZZ_DIR}/fuzz_${t}.c
    ${EBB_FUZZ_DIR}/replay_main.c)
  target_include_directories(replay_fuzz_${t} PRIVATE ${EBB_FUZZ_DIR})
  target_link_libraries(replay_fuzz_${t} PRIVATE ${EBB_FUZZ_LIBS_${t}})
  add_test(NAME fuzz/replay_${t}
    COMMAND replay_fuzz_${t} ${EBB_FUZZ_DIR}/corpus/${t})
  set_tests_properties(fuzz/replay_${t} PROPERTIES
    ENVIRONMENT "${EBB_TEST_ENV}" LABELS fuzz TIMEOUT 60)
endforeach()

# ---- libFuzzer targets (clang, EBB_FUZZ=ON) -------------------------------
if(NOT EBB_FUZZ)
  return()
endif()
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "EBB_FUZZ=ON needs clang (CC=clang), not "
    "${CMAKE_C_COMPILER_ID}")
endif()

set(EBB_FUZZ_SAN address,undefined)
set(EBB_FUZZ_CFLAGS -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all)

# An instrumented copy of a component: the given folders' *.c (daemons'
# *_main.c left out) or explicit files, with coverage for the fuzzer.
function(ebb_fuzz_lib name)
  cmake_parse_arguments(A "" "" "DIRS;FILES;LINK" ${ARGN})
  set(_src ${A_FILES})
  foreach(d ${A_DIRS})
    file(GLOB _s CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${d}/*.c)
    # Neither daemons' main()s nor modules (OpenSSL's TLS).
    list(FILTER _s EXCLUDE REGEX "(_main|/ebb_tls_openssl)\\.c$")
    list(APPEND _src ${_s})
  endforeach()
  add_library(${name} STATIC EXCLUDE_FROM_ALL ${_src})
  target_include_directories(${name} PUBLIC
    ${CMAKE_SOURCE_DIR}/common ${CMAKE_SOURCE_DIR}/policy
    ${CMAKE_SOURCE_DIR}/power ${CMAKE_SOURCE_DIR}/metrics
    ${CMAKE_SOURCE_DIR}/sim ${CMAKE_SOURCE_DIR}/migrate
    ${CMAKE_SOURCE_DIR}/agent ${CMAKE_SOURCE_DIR}/controller
    ${CMAKE_SOURCE_DIR}/bus)
  target_compile_options(${name} PRIVATE ${EBB_FUZZ_CFLAGS}
    -fsanitize=fuzzer-no-link,${EBB_FUZZ_SAN})
  target_link_libraries(${name} PUBLIC ${A_LINK})
endfunction()

ebb_fuzz_lib(ebbfz_common DIRS common LINK PkgConfig::JANSSON m
  ${CMAKE_DL_LIBS})
ebb_fuzz_lib(ebbfz_policy DIRS policy LINK ebbfz_common)
ebb_fuzz_lib(ebbfz_sim DIRS sim LINK ebbfz_policy ebbfz_common)
ebb_fuzz_lib(ebbfz_migrate DIRS migrate LINK ebbfz_common PkgConfig::CRYPTO)
ebb_fuzz_lib(ebbfz_power DIRS power
  LINK ebbfz_policy ebbfz_common ebb::CPUPOWER ebb::SENSORS)
# The bus's interface and configuration (its Kafka transport is a module).
ebb_fuzz_lib(ebbfz_bus FILES ${CMAKE_SOURCE_DIR}/bus/ebb_bus.c
  LINK ebbfz_common)
# Only the configuration parsers of the daemons: the rest of them (their
# loops, the journal, the web assets) is not what these targets reach.
ebb_fuzz_lib(ebbfz_agent FILES ${CMAKE_SOURCE_DIR}/agent/agt_config.c
  LINK ebbfz_bus ebbfz_power ebbfz_policy ebbfz_common)
ebb_fuzz_lib(ebbfz_controller FILES ${CMAKE_SOURCE_DIR}/controller/ctl_config.c
  ${CMAKE_SOURCE_DIR}/controller/ctl_power.c
  LINK ebbfz_bus ebbfz_policy ebbfz_common)

set(EBB_FUZZ_FZLIBS_policy ebbfz_policy)
set(EBB_FUZZ_FZLIBS_wire ebbfz_common)
set(EBB_FUZZ_FZLIBS_http ebbfz_common)
set(EBB_FUZZ_FZLIBS_mig_recv ebbfz_migrate Threads::Threads)
set(EBB_FUZZ_FZLIBS_sim_trace ebbfz_sim)
set(EBB_FUZZ_FZLIBS_sim_fleet ebbfz_sim)
set(EBB_FUZZ_FZLIBS_agt_config ebbfz_agent)
set(EBB_FUZZ_FZLIBS_ctl_config ebbfz_controller)

add_custom_target(ebb_fuzz)
foreach(t ${EBB_FUZZ_TARGETS})
  add_executable(fuzz_${t} EXCLUDE_FROM_ALL ${EBB_FUZZ_DIR}/fuzz_${t}.c)
  target_include_directories(fuzz_${t} PRIVATE ${EBB_FUZZ_DIR})
  target_compile_options(fuzz_${t} PRIVATE ${EBB_FUZZ_CFLAGS}
    -fsanitize=fuzzer,${EBB_FUZZ_SAN})
  target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,${EBB_FUZZ_SAN})
  target_link_libraries(fuzz_${t} PRIVATE ${EBB_FUZZ_FZLIBS_${t}})
  add_dependencies(ebb_fuzz fuzz_${t})
endforeach()
