"""`python -m memo_edge.training ARGS` == `memo train ARGS`; the entry point for `accelerate launch -m memo_edge.training`."""

import sys

from memo_edge.cli import main

main(["train", *sys.argv[1:]])
