#!/bin/bash
# Test fixture: pai's requirement.sh runs environment-check.yml with ansible;
# the fake ansible-playbook fails it when FIXTURE_REQUIREMENT_FAIL is set.
set -e

while getopts "l:c:" opt; do
  case $opt in
    l) LAYOUT=$OPTARG ;;
    c) CLUSTER_CONFIG=$OPTARG ;;
    \?) echo "Invalid option: -$OPTARG"; exit 1 ;;
  esac
done

echo "layout file path: ${LAYOUT}"
echo "cluster config file path: ${CLUSTER_CONFIG}"
echo "requirement.sh -l ${LAYOUT} -c ${CLUSTER_CONFIG}" >> "$FIXTURE_RECORD"

function cleanup(){
  rm -rf ${HOME}/pai-pre-check/
}
trap cleanup EXIT

mkdir -p ${HOME}/pai-pre-check/
touch ${HOME}/pai-pre-check/pre-check.yml
ansible-playbook -i ${HOME}/pai-pre-check/pre-check.yml environment-check.yml -e "@${CLUSTER_CONFIG}"
