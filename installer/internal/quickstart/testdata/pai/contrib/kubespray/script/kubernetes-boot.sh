#!/bin/bash
# Test fixture: pai's kubernetes-boot.sh runs kubespray's cluster.yml and
# copies admin.conf. FIXTURE_HANG leaves it waiting on a child that ignores
# SIGTERM, for the cancellation test.

echo "kubernetes-boot.sh" >> "$FIXTURE_RECORD"
echo "setup k8s cluster"
cd ${HOME}/pai-deploy/kubespray

if [ -n "$FIXTURE_HANG" ]; then
  bash -c 'trap "" TERM; exec sleep 1000' &
  echo "child=$!" >> "$FIXTURE_RECORD"
  echo "Waiting for the cluster..."
  wait
fi

ansible-playbook -i inventory/pai/hosts.yml -e "ansible_python_interpreter=/usr/bin/python3" cluster.yml --become --become-user=root -e "@inventory/pai/openpai.yml" || exit $?

sudo mkdir -p ${HOME}/pai-deploy/kube || exit $?
sudo cp -rf ${HOME}/pai-deploy/kubespray/inventory/pai/artifacts/admin.conf ${HOME}/pai-deploy/kube/config || exit $?
