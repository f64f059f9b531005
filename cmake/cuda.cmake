# The CUDA backend: native/cuda/*.cu compiled into a static library linked into the addon.
#
# It is built when nvcc (CUDA >= 12) is found and GPT_CUDA is not OFF. Knobs:
#   GPT_CUDA=OFF              build without it (cmake-js: --CDGPT_CUDA=OFF)
#   GPT_CUDA_ARCHS            compute capabilities as "80;86;89;90" or "80,86,89,90": cache variable
#                             (cmake-js: --CDGPT_CUDA_ARCHS=90) or the environment variable of the
#                             same name, which wins when set (GPT_CUDA_ARCHS=90 npx cmake-js compile).
#                             Real code for each, plus PTX for the newest so that newer GPUs can
#                             JIT it. Default: 80, 86, 89, 90 (Ampere, Ada, Hopper).
#   GPT_CUDA_VERBOSE=1        (environment at configure time, or --CDGPT_CUDA_VERBOSE=ON) adds
#                             -Xptxas -v: registers, shared memory and spills per kernel.
#
# The CUDA runtime is linked statically (cudart_static): the addon must not need libcudart.so,
# and it finds libcuda.so (the driver) with dlopen at run time, so a machine without a driver
# still loads the addon and simply reports no devices. tests/cuda-build.test.ts checks this.
#
# Included from CMakeLists.txt after the addon target (${PROJECT_NAME}) is defined.

get_filename_component(_gpt_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  option(GPT_CUDA "Build the CUDA backend" ON)
else()
  option(GPT_CUDA "Build the CUDA backend" OFF)
endif()
if(GPT_CUDA AND NOT CMAKE_CUDA_COMPILER)
  message(WARNING "gpt-cuda: GPT_CUDA is ON but no CUDA compiler was found; building without CUDA")
  set(GPT_CUDA OFF)
endif()

if(GPT_CUDA)
  # "80;86;89;90" → 80-real;86-real;89-real;90-real;90-virtual: SASS for each, PTX for the newest.
  set(GPT_CUDA_ARCHS "80;86;89;90" CACHE STRING "CUDA compute capabilities, e.g. 80;86;89;90")
  if(DEFINED ENV{GPT_CUDA_ARCHS} AND NOT "$ENV{GPT_CUDA_ARCHS}" STREQUAL "")
    set(GPT_CUDA_ARCHS "$ENV{GPT_CUDA_ARCHS}" CACHE STRING "CUDA compute capabilities, e.g. 80;86;89;90" FORCE)
  endif()
  string(REPLACE "," ";" _archs "${GPT_CUDA_ARCHS}")
  list(SORT _archs COMPARE NATURAL)
  list(REMOVE_DUPLICATES _archs)
  list(GET _archs -1 _newest)
  set(CMAKE_CUDA_ARCHITECTURES "")
  set(GPT_CUDA_ARCH_NAMES "")  # for buildInfo().archs: sm_80,…,compute_90
  foreach(_a IN LISTS _archs)
    if(NOT _a MATCHES "^[0-9]+[af]?$")
      message(FATAL_ERROR "gpt-cuda: GPT_CUDA_ARCHS entry '${_a}' is not a compute capability like 90")
    endif()
    string(REGEX REPLACE "[af]$" "" _num "${_a}")
    if(_num LESS 80)
      message(FATAL_ERROR "gpt-cuda: GPT_CUDA_ARCHS entry '${_a}': the kernels need compute capability 8.0 "
                          "or newer (bf16 tensor cores)")
    endif()
    list(APPEND CMAKE_CUDA_ARCHITECTURES "${_a}-real")
    list(APPEND GPT_CUDA_ARCH_NAMES "sm_${_a}")
  endforeach()
  list(APPEND CMAKE_CUDA_ARCHITECTURES "${_newest}-virtual")
  list(APPEND GPT_CUDA_ARCH_NAMES "compute_${_newest}")

  enable_language(CUDA)
  if(CMAKE_CUDA_COMPILER_VERSION VERSION_LESS 12.0)
    message(WARNING "gpt-cuda: CUDA ${CMAKE_CUDA_COMPILER_VERSION} is older than 12; building without CUDA")
    set(GPT_CUDA OFF)
  endif()
endif()

if(GPT_CUDA)
  find_package(CUDAToolkit REQUIRED)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)

  file(GLOB CUDA_SOURCES CONFIGURE_DEPENDS ${_gpt_root}/native/cuda/*.cu)
  add_library(gpt_cuda_kernels STATIC ${CUDA_SOURCES})
  set_target_properties(gpt_cuda_kernels PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    CUDA_RUNTIME_LIBRARY Static
    CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
  target_include_directories(gpt_cuda_kernels PRIVATE ${_gpt_root}/native)
  # Host code: the same warnings as the C++ sources; device code: none tolerated either.
  target_compile_options(gpt_cuda_kernels PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-O3 -Xcompiler=-Wall,-Wextra,-fvisibility=hidden>)
  if(GPT_CUDA_VERBOSE OR "$ENV{GPT_CUDA_VERBOSE}")
    target_compile_options(gpt_cuda_kernels PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xptxas=-v>)
  endif()
  target_compile_definitions(gpt_cuda_kernels PRIVATE GPT_CUDA_ENABLED=1)
  target_link_libraries(gpt_cuda_kernels PUBLIC CUDA::cudart_static)

  target_link_libraries(${PROJECT_NAME} PRIVATE gpt_cuda_kernels)
  # Keep cudart_static's symbols out of the addon's dynamic symbol table.
  target_link_options(${PROJECT_NAME} PRIVATE "LINKER:--exclude-libs,ALL")

  string(REPLACE ";" "," _names "${GPT_CUDA_ARCH_NAMES}")
  target_compile_definitions(${PROJECT_NAME} PRIVATE
    "GPT_CUDA_VERSION=\"${CMAKE_CUDA_COMPILER_VERSION}\"" "GPT_CUDA_ARCHS=\"${_names}\"")
  message(STATUS "gpt-cuda: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
endif()
