#!/bin/bash
# Test fixture: sets up ~/pai-deploy like pai's environment.sh, without the
# network. FIXTURE_UNKNOWN_PROMPT makes it ask a question nobody answers;
# FIXTURE_QUIET makes it work silently for a while without reading stdin.

while getopts "c:" opt; do
  case $opt in
    c) CLUSTER_CONFIG=$OPTARG ;;
    \?) echo "Invalid option: -$OPTARG"; exit 1 ;;
  esac
done
echo "environment.sh -c ${CLUSTER_CONFIG}" >> "$FIXTURE_RECORD"

echo "Create working folder in ${HOME}/pai-deploy"
mkdir -p ${HOME}/pai-deploy/kubespray/inventory/pai

case "$FIXTURE_UNKNOWN_PROMPT" in
  partial)
    printf 'Enter the cluster name: '
    read -r name
    echo "environment.sh got ${name}" >> "$FIXTURE_RECORD"
    ;;
  line)
    echo "Type the name of the cluster and press ENTER"
    read -r name
    echo "environment.sh got ${name}" >> "$FIXTURE_RECORD"
    ;;
esac

if [ -n "$FIXTURE_QUIET" ]; then
  # Quiet work, and a command substitution: bash blocks reading a pipe that
  # is not stdin.
  out=$(sleep "$FIXTURE_QUIET"; echo done)
  echo "quiet work ${out}"
fi

echo "Install python packages"
sudo true
