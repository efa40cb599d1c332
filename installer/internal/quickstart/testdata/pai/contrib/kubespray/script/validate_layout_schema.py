# Test fixture: stands in for pai's layout validation.
import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument('-l', '--layout', required=True)
parser.add_argument('-c', '--config', required=True)
args = parser.parse_args()
for path in (args.layout, args.config):
    if not os.path.isfile(path):
        raise SystemExit("missing " + path)
with open(os.environ["FIXTURE_RECORD"], "a") as f:
    f.write("validate_layout_schema.py\n")
print("layout.yaml is valid")
