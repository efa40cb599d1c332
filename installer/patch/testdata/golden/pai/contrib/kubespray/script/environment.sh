#!/bin/bash
# Prepares the dev box: kubespray's source and the Python tools.
# Docs: https://openpai.readthedocs.io/

mkdir -p ${HOME}/pai-deploy/
mkdir -p ${HOME}/pai-deploy/kubespray && (set -o pipefail; u="http://10.0.0.9:5000/github.com/kubernetes-sigs/kubespray/archive/67167bd8d292b67e9c8bceccbc8fb230d05bd2ba.tar.gz"; if command -v curl >/dev/null 2>&1; then curl -fsSL "$u"; elif command -v wget >/dev/null 2>&1; then wget -qO- "$u"; elif command -v python3 >/dev/null 2>&1; then python3 -c 'import shutil, sys, urllib.request; shutil.copyfileobj(urllib.request.urlopen(sys.argv[1]), sys.stdout.buffer)' "$u"; else echo "environment.sh: fetching kubespray from the mirror needs curl, wget or python3; install one and run again" >&2; exit 127; fi | tar -xz --strip-components=1 -C ${HOME}/pai-deploy/kubespray) || exit $?

sudo apt-get -y update
sudo apt-get -y install python3 python3-pip
sudo python3 -m pip install pip==20.3.4
sudo python3 -m pip install -r script/requirements.txt
sudo apt-get -y install sshpass
