#!/bin/bash
set -e
TAG=`grep docker_image_tag ${CLUSTER_CONFIG} | tr -d "[:space:]" | cut -d ':' -f 2`

sudo docker run -itd \
        -v /var/run/docker.sock:/var/run/docker.sock \
        -v ${HOME}/pai-deploy/kube:/root/.kube \
        --net=host \
        --entrypoint /bin/bash \
        --name=dev-box-quick-start \
        openpai/dev-box:${TAG}

sudo docker exec dev-box-quick-start kubectl get node
