#!/bin/bash
# Test fixture: the shape of pai v1.8.0's quick-start-service.sh. It takes no
# arguments and must run in contrib/kubespray after the kubespray script.
set -e

if [ $# -ne 0 ]; then
  echo "quick-start-service.sh takes no arguments, got: $*"
  exit 64
fi
case "$PWD" in
  */contrib/kubespray) ;;
  *) echo "not run in contrib/kubespray: $PWD"; exit 65 ;;
esac
if [ ! -f "${HOME}/pai-deploy/kube/config" ]; then
  echo "no kube config: run quick-start-kubespray.sh first"
  exit 66
fi

LAYOUT="$PWD/config/layout.yaml"
CLUSTER_CONFIG="$PWD/config/config.yaml"
echo "quick-start-service.sh extra=${FIXTURE_EXTRA} unbuffered=${PYTHONUNBUFFERED}" >> "$FIXTURE_RECORD"

echo "layout config file path: ${LAYOUT}"
echo "cluster config file path: ${CLUSTER_CONFIG}"

echo "Saving layout.yaml & config.yaml to ${HOME}/pai-deploy/cluster-cfg"
cp ${LAYOUT} ${HOME}/pai-deploy/cluster-cfg
cp ${CLUSTER_CONFIG} ${HOME}/pai-deploy/cluster-cfg

/bin/bash script/service-boot.sh -c ${CLUSTER_CONFIG}
