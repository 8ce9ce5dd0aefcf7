#!/usr/bin/env bash
# scripts/gpu-env.sh: on the lent NVIDIA machine (see shared/DEVICE.md), unpacks the Debian
# runtime packages carried in .devdeps/ (ICD loader, CLBlast, cJSON, CUnit, clinfo) and points
# the loader at NVIDIA's OpenCL driver. Source it: `. scripts/gpu-env.sh`.
mkdir -p /tmp/x /tmp/icd
for f in .devdeps/*.deb; do dpkg -x "$f" /tmp/x; done
echo /usr/local/nvidia/lib64/libnvidia-opencl.so.1 >/tmp/icd/nvidia.icd
export OCL_ICD_VENDORS=/tmp/icd
export LD_LIBRARY_PATH=/tmp/x/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export PATH=/tmp/x/usr/bin:$PATH
