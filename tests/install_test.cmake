# tests/install_test.cmake: installs clmp into a scratch prefix and uses it the way a user would:
# find_package(clmp) from a CMake project, pkg-config with the C compiler, and the installed tool.
# Run as: cmake -DBUILD_DIR=<build> -DWORK_DIR=<scratch> -DCONSUMER_DIR=<tests/consumer> -P this
cmake_minimum_required(VERSION 3.25)

foreach(var BUILD_DIR WORK_DIR CONSUMER_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install test: -D${var}=... is required")
  endif()
endforeach()

set(PREFIX ${WORK_DIR}/prefix)
set(CONSUMER_BUILD ${WORK_DIR}/consumer-build)
set(PC_PROGRAM ${WORK_DIR}/consumer-pkgconfig)

# run_step(<what> [ENV VAR=value...] COMMAND <command...>): runs the command, prints it, and
# stops the test with its output when it fails. The output is left in STEP_OUTPUT.
function(run_step what)
  cmake_parse_arguments(S "" "" "ENV;COMMAND" ${ARGN})
  list(JOIN S_COMMAND " " text)
  message(STATUS "install test: ${what}: ${S_ENV} ${text}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env ${S_ENV} ${S_COMMAND}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc}):\n  ${S_ENV} ${text}\n${out}")
  endif()
  set(STEP_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

# expect_output(<what> <needle>): STEP_OUTPUT of the last step must contain needle.
function(expect_output what needle)
  string(FIND "${STEP_OUTPUT}" "${needle}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "install test: ${what}: output lacks '${needle}':\n${STEP_OUTPUT}")
  endif()
endfunction()

# The build's compiler and sanitizer setting: a consumer of an ASan-built libclmp needs them too.
file(STRINGS ${BUILD_DIR}/CMakeCache.txt cache_cc REGEX "^CMAKE_C_COMPILER:")
file(STRINGS ${BUILD_DIR}/CMakeCache.txt cache_sanitize REGEX "^CLMP_SANITIZE:")
string(REGEX REPLACE "^[^=]*=" "" CC "${cache_cc}")
string(REGEX REPLACE "^[^=]*=" "" SANITIZE "${cache_sanitize}")
set(SANITIZE_FLAGS "")
if(SANITIZE)
  set(SANITIZE_FLAGS -fsanitize=address,undefined)
endif()

# 1. Install into a clean prefix.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
run_step("install" COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX})

file(STRINGS ${PREFIX}/include/clmp/version.h version_line REGEX "define CLMP_VERSION_STRING")
string(REGEX MATCH "\"([^\"]*)\"" _ "${version_line}")
set(VERSION ${CMAKE_MATCH_1})
if(NOT VERSION)
  message(FATAL_ERROR "install test: no CLMP_VERSION_STRING in ${PREFIX}/include/clmp/version.h")
endif()

# The library folder is whatever GNUInstallDirs picked (lib, lib64, lib/<multiarch>): the one
# that holds pkgconfig/clmp.pc.
file(GLOB_RECURSE pc_files ${PREFIX}/clmp.pc)
list(LENGTH pc_files n_pc)
if(NOT n_pc EQUAL 1)
  message(FATAL_ERROR "install test: want one installed clmp.pc, found '${pc_files}'")
endif()
get_filename_component(PC_DIR ${pc_files} DIRECTORY)
get_filename_component(LIB_DIR ${PC_DIR} DIRECTORY)
if(NOT EXISTS ${LIB_DIR}/cmake/clmp/clmpConfig.cmake)
  message(FATAL_ERROR "install test: no ${LIB_DIR}/cmake/clmp/clmpConfig.cmake")
endif()
message(STATUS "install test: version ${VERSION}, library folder ${LIB_DIR}")

# 2. find_package(clmp) from a CMake project; the program runs from the build tree's RPATH.
set(consumer_flags "")
if(SANITIZE)
  set(consumer_flags "-DCMAKE_C_FLAGS=${SANITIZE_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS}")
endif()
run_step("configure the consumer"
         COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${CONSUMER_BUILD}
                 -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_C_COMPILER=${CC} ${consumer_flags})
run_step("build the consumer" COMMAND ${CMAKE_COMMAND} --build ${CONSUMER_BUILD})
run_step("run the consumer (CMake package)" COMMAND ${CONSUMER_BUILD}/clmp_consumer)
expect_output("the consumer (CMake package)" "clmp ${VERSION}")

# 3. pkg-config: the flags must point into the prefix, then the same main.c builds and runs.
find_program(PKG_CONFIG NAMES pkg-config pkgconf REQUIRED)
set(PC_ENV PKG_CONFIG_PATH=${PC_DIR})
foreach(var includedir libdir)
  run_step("pkg-config ${var}" ENV ${PC_ENV} COMMAND ${PKG_CONFIG} --variable=${var} clmp)
  string(STRIP "${STEP_OUTPUT}" dir)
  string(FIND "${dir}" "${PREFIX}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "install test: clmp.pc's ${var} is '${dir}', outside the install prefix "
                        "${PREFIX}: the .pc file does not follow `cmake --install --prefix`")
  endif()
endforeach()
run_step("pkg-config flags" ENV ${PC_ENV} COMMAND ${PKG_CONFIG} --cflags --libs clmp)
string(STRIP "${STEP_OUTPUT}" pc_flags)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
run_step("compile with pkg-config"
         COMMAND ${CC} -std=c11 ${SANITIZE_FLAGS} ${CONSUMER_DIR}/main.c -o ${PC_PROGRAM}
                 ${pc_flags})
run_step("run the consumer (pkg-config)" ENV LD_LIBRARY_PATH=${LIB_DIR} COMMAND ${PC_PROGRAM})
expect_output("the consumer (pkg-config)" "clmp ${VERSION}")

# 4. The installed tool.
run_step("installed clmp --version" COMMAND ${PREFIX}/bin/clmp --version)
expect_output("installed clmp --version" "clmp ${VERSION}")

message(STATUS "install test: passed (CMake package, pkg-config, installed clmp ${VERSION})")
