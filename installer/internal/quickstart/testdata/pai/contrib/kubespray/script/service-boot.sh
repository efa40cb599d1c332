#!/bin/bash
# Test fixture: pai's service-boot.sh reads docker_image_tag with a grep and
# starts the services from the dev-box container (a fake docker here).
set -e

while getopts "c:" opt; do
  case $opt in
    c) CLUSTER_CONFIG=$OPTARG ;;
    \?) echo "Invalid option: -$OPTARG"; exit 1 ;;
  esac
done

OPENPAI_IMAGE_TAG=`cat ${CLUSTER_CONFIG} | grep docker_image_tag | tr -d "[:space:]" | cut -d ':' -f 2`
echo "OpenPAI Image Tag ${OPENPAI_IMAGE_TAG}"
echo "service-boot.sh tag=${OPENPAI_IMAGE_TAG}" >> "$FIXTURE_RECORD"

LOCAL_PAI_PATH=$(realpath $PWD/../..)
sudo docker run -itd -v ${LOCAL_PAI_PATH}:/mnt/pai --name=dev-box-quick-start openpai/dev-box:${OPENPAI_IMAGE_TAG}

echo "Checking k8s installation..."
sudo docker exec dev-box-quick-start kubectl get node

echo "Starting OpenPAI service with dev-box..."
sudo docker exec -w /mnt/pai dev-box-quick-start /bin/bash ./contrib/kubespray/script/start-service-in-dev-box.sh

if [ -n "$FIXTURE_SERVICE_FAIL" ]; then
  echo "service start failed"
  exit 5
fi
echo "OpenPAI is successfully deployed, please check the following information:"
