#!/usr/bin/env python3
"""mlgov entry point: the CLI (`python main.py --help`) and the cdktf app (`cdktf synth`).

cdktf.json runs `python main.py synth`; under the cdktf CLI the output directory comes from
CDKTF_OUTDIR, so `cdktf synth`, `cdktf diff` and `cdktf deploy <stack>` see mlgov's stacks.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mlgov.synth.stacks import prepare_runtime

prepare_runtime()

from mlgov.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
