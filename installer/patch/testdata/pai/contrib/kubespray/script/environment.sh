#!/bin/bash
# Prepares the dev box: kubespray's source and the Python tools.
# Docs: https://openpai.readthedocs.io/

mkdir -p ${HOME}/pai-deploy/
git clone -b release-2.11 https://github.com/kubernetes-sigs/kubespray.git ${HOME}/pai-deploy/kubespray

sudo apt-get -y update
sudo apt-get -y install python3 python3-pip
sudo python3 -m pip install pip==20.3.4
sudo python3 -m pip install -r script/requirements.txt
sudo apt-get -y install sshpass
