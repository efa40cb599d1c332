# Test fixture: asks the Azure question the way pai's k8s_generator.py does,
# with input() (no newline, three tries, case sensitive), and insists on
# the answer "N".
import argparse
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument('-l', '--layout', dest="layout", required=True)
parser.add_argument('-c', '--config', dest="config", required=True)
parser.add_argument('-o', '--output', dest="output", required=True)
args = parser.parse_args()


def record(line):
    with open(os.environ["FIXTURE_RECORD"], "a") as f:
        f.write(line + "\n")


with open(args.config) as f:
    weave = "openpai_kube_network_plugin: weave" in f.read()

if not weave:
    if sys.stdin.isatty():
        record("k8s_generator.py stdin is a terminal")
        sys.exit(4)
    count_input = 0
    while True:
        user_input = input("Are your cluster is in Azure cloud or not? (Y/N) (case sensitive)")
        if user_input == "N":
            break
        if user_input == "Y":
            break
        print(" Please type Y or N. It's case sensitive.")
        count_input = count_input + 1
        if count_input == 3:
            print("3 Times.........  Sorry,  we will force stopping your operation.", file=sys.stderr)
            sys.exit(1)
    record("k8s_generator.py azure=" + user_input)
    if user_input != "N":
        sys.exit(3)

out = os.path.expanduser(args.output)
for name in ("hosts.yml", "openpai.yml"):
    with open(os.path.join(out, name), "w") as f:
        f.write("# generated\n")
print("kubespray configuration written to " + out)
