#!/usr/bin/env bash
# Install the Debian packages vtkdicom_app needs (virtual X server and the X/GL libraries
# that VTK and Qt load; Orthanc with its DICOMweb plugin and dcmtk for the PACS tests and
# benchmark). Skips apt entirely when everything is already installed.
set -euo pipefail
PKGS=(xvfb xauth libgl1 libglu1-mesa libegl1 libxrender1 libxt6 libxext6 libsm6 libice6
      libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
      libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 libxcb-shape0 libxcb-cursor0
      libfontconfig1 libdbus-1-3
      orthanc orthanc-dicomweb dcmtk)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
